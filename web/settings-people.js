// Settings of who works in the workspace: agents and their roles, bots and their tokens, teams,
// and the contact lists agents put customers on.
import { el, toast } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./state.js";
import { api } from "./api.js";
import { reload } from "./app.js";
import { confirmDialog } from "./ui.js";
import { table, form, copyable } from "./settings-forms.js";
import { show } from "./settings.js";

// ---- Agents: roles, and who works which inbox is on Inboxes.
export const agents = { key: "agents", title: t("Agents and roles"), roles: ["admin"], render: async (body) => {
  const list = (await api("/api/v1/users")).items.filter((u) => !u.bot);
  const roles = [["agent", t("Agent")], ["supervisor", t("Supervisor")], ["admin", t("Admin")]];
  body.append(
    table(["Name", "Email", "Role", ""], list.map((u) => [u.name, u.email,
      el("select", { "aria-label": t("Role of {name}", { name: u.name }), onchange: async (e) => {
        try {
          await api(`/api/v1/users/${u.id}`, { method: "PATCH", body: JSON.stringify({ role: e.target.value }) });
          toast(t("Role changed"));
        } catch (err) { toast(err.message, "warning"); }
      } },
        ...roles.map(([v, label]) => el("option", { value: v, selected: v === u.role }, label))),
      u.id === state.me.id ? "" : el("button", { type: "button", class: "secondary", onclick: async () => {
        if (!await confirmDialog(t("Remove {name}?", { name: u.name }), { confirm: t("Remove"), danger: true })) return;
        try { await api(`/api/v1/users/${u.id}`, { method: "DELETE" }); show("agents"); } catch (err) { toast(err.message, "warning"); }
      } }, t("Remove"))])),
    el("h3", {}, t("Add someone")),
    form("new-user", [
      ["name", t("Name"), { required: true }], ["email", t("Email"), { type: "email", required: true }],
      ["password", t("First password (12+ characters)"), { type: "password", required: true }],
      ["role", t("Role"), { options: roles, value: "agent" }],
    ], t("Add"), async (v) => {
      await api("/api/v1/users", { method: "POST", body: JSON.stringify(v) });
      await reload(); show("agents"); toast(t("{name} can sign in now", { name: v.name }));
    }));
} };

// ---- Bots: they answer through an API token in their inboxes and hand off to people.
export const bots = { key: "bots", title: t("Bots"), roles: ["admin"], render: async (body) => {
  const bots = (await api("/api/v1/bots")).items;
  const inboxes = state.inboxes;
  const boxes = inboxes.map((i) => el("label", { class: "inline" }, el("input", { type: "checkbox", name: "inbox", value: i.id }), i.name));
  const name = el("input", { name: "name", required: true, placeholder: t("Order status bot"), autocomplete: "off" });
  const out = el("div", { class: "result", role: "status" });
  const f = el("form", { id: "new-bot", class: "stack" }, el("label", {}, t("Name"), name),
    el("fieldset", {}, el("legend", {}, t("Inboxes it answers in")), ...boxes), el("button", {}, t("Add bot")), out);
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.className = "result"; out.replaceChildren();
    try {
      const inboxIds = boxes.map((b) => b.querySelector("input")).filter((x) => x.checked).map((x) => x.value);
      const made = await api("/api/v1/bots", { method: "POST", body: JSON.stringify({ name: name.value.trim(), inbox_ids: inboxIds }) });
      await reload();
      out.replaceChildren(el("p", {}, t("{name} is ready. Its API token, shown only now:", { name: made.bot.name })), copyable("bot-token", made.token));
      name.value = "";
    } catch (err) { out.className = "result error"; out.textContent = err.message; }
  });
  body.append(
    el("p", { class: "muted" }, t("A bot reads conversations and answers through the API with its token (the realtime socket tells it what arrives). Its replies show as the bot's; when it cannot help it hands the conversation to people with POST /api/v1/conversations/{id}/handoff and a note.")),
    table(["Bot", ""], bots.map((b) => [b.name,
      el("button", { type: "button", class: "secondary", onclick: async () => {
        if (!await confirmDialog(t("Remove {name}? Its token stops working.", { name: b.name }), { confirm: t("Remove"), danger: true })) return;
        try { await api(`/api/v1/users/${b.id}`, { method: "DELETE" }); await reload(); show("bots"); } catch (err) { toast(err.message, "warning"); }
      } }, t("Remove"))])),
    el("h3", {}, t("Add a bot")), f);
} };

export const teams = { key: "teams", title: t("Teams"), roles: ["admin"], render: async (body) => {
  const list = (await api("/api/v1/teams")).items;
  const users = state.users;
  body.append(
    table(["Team", "Members", ""], list.map((team) => [team.name,
      el("div", {}, ...users.map((u) => el("label", { class: "inline" }, el("input", { type: "checkbox", checked: (team.members || []).some((m) => (m.id || m) === u.id),
        onchange: async (e) => {
          try { await api(`/api/v1/teams/${team.id}/members/${u.id}`, { method: e.target.checked ? "PUT" : "DELETE" }); }
          catch (err) { e.target.checked = !e.target.checked; toast(err.message, "warning"); }
        } }), u.name))),
      el("button", { type: "button", class: "secondary", onclick: async () => {
        if (!await confirmDialog(t("Delete {name}?", { name: team.name }), { confirm: t("Delete"), danger: true })) return;
        try { await api(`/api/v1/teams/${team.id}`, { method: "DELETE" }); await reload(); show("teams"); } catch (err) { toast(err.message, "warning"); }
      } }, t("Delete"))])),
    form("new-team", [["name", t("New team"), { required: true }]], t("Create"), async (v) => {
      await api("/api/v1/teams", { method: "POST", body: JSON.stringify(v) }); await reload(); show("teams");
    }));
} };

// ---- Contact lists: agents put contacts on them from the customer panel.
export const lists = { key: "lists", title: t("Contact lists"), roles: ["admin", "supervisor"], render: async (body) => {
  const items = (await api("/api/v1/lists")).items;
  const act = async (path, init) => { try { await api(path, init); show("lists"); } catch (err) { toast(err.message, "warning"); } };
  body.append(
    el("p", { class: "muted" }, t("Agents put a contact on a list from the customer panel.")),
    table(["List", "Contacts", ""], items.map((l) => [
      el("details", {}, el("summary", {}, l.name), form(`rename-list-${l.id}`, [["name", t("Name"), { value: l.name, required: true }]], t("Rename"),
        (v) => act(`/api/v1/lists/${l.id}`, { method: "PATCH", body: JSON.stringify(v) }))),
      String(l.size),
      el("button", { type: "button", class: "secondary", onclick: async () => {
        if (await confirmDialog(t("Delete {name}? Its contacts stay.", { name: l.name }), { confirm: t("Delete"), danger: true })) act(`/api/v1/lists/${l.id}`, { method: "DELETE" });
      } }, t("Delete"))])),
    form("new-list", [["name", t("New list"), { required: true, placeholder: "VIP" }]], t("Create"), async (v) => {
      await api("/api/v1/lists", { method: "POST", body: JSON.stringify(v) }); show("lists");
    }));
} };
