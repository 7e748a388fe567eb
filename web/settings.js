// Settings for admins (and what supervisors may see). Every screen is one entry of SCREENS: its
// key (the address is #/settings/<key>), title, the roles that may open it, and render(body), which
// fills the screen from the API. A new capability adds its screen by adding an entry.
import { el, toast, when } from "./dom.js";
import { t } from "./i18n.js";
import { state, ICONS } from "./state.js";
import { api } from "./api.js";
import { consentView } from "./panel.js";
import { reload } from "./app.js";
import { confirmDialog } from "./ui.js";

const SCREENS = [];
const screen = (s) => SCREENS.push(s);

// ---- Small building blocks every screen uses.
function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h ? t(h) : "")))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))));
}
// A form of labelled inputs: [name, label, {type, value, options, required, placeholder}].
function form(id, fields, submit, onsubmit) {
  const inputs = fields.map(([name, label, o = {}]) => {
    const input = o.options
      ? el("select", { name }, ...o.options.map(([v, t]) => el("option", { value: v, selected: v === o.value }, t)))
      : o.type === "textarea" ? el("textarea", { name, rows: "3", placeholder: o.placeholder }, o.value || "")
      : el("input", { name, type: o.type || "text", value: o.value, required: o.required, placeholder: o.placeholder, autocomplete: "off" });
    return el("label", { "data-for": name, hidden: o.hidden }, label, input);
  });
  const out = el("p", { class: "result", role: "status" });
  const f = el("form", { id, class: "stack" }, ...inputs, el("button", {}, submit), out);
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const values = {};
    // Passwords are sent as typed; a field marked `clearable` sends "" to clear what was set.
    for (const [name, , o = {}] of fields) {
      const raw = f.elements[name].value;
      const v = o.type === "password" ? raw : raw.trim();
      if (v !== "" || o.clearable) values[name] = v;
    }
    out.className = "result"; out.textContent = "";
    try { await onsubmit(values, out); } catch (err) { out.className = "result error"; out.textContent = err.message; }
  });
  return f;
}
function copyable(id, text) {
  const box = el("input", { id, readonly: true, value: text, "aria-label": t("Copy this"), size: "50" });
  return el("span", { class: "copy" }, box, el("button", { type: "button", class: "secondary", onclick: () => { box.select(); navigator.clipboard && navigator.clipboard.writeText(text); toast(t("Copied")); } }, t("Copy")));
}
// An editor for a JSON settings document: text, numbers, switches and comma-separated lists.
function jsonFields(value, path = []) {
  return Object.entries(value).map(([k, v]) => {
    const name = [...path, k].join(".");
    const label = t(k.replace(/_/g, " "));
    if (v && typeof v === "object" && !Array.isArray(v)) return el("fieldset", {}, el("legend", {}, label), ...jsonFields(v, [...path, k]));
    if (typeof v === "boolean") return el("label", { class: "inline" }, el("input", { type: "checkbox", name, "data-kind": "bool", checked: v }), label);
    if (typeof v === "number") return el("label", {}, label, el("input", { type: "number", name, "data-kind": "number", value: String(v), min: "0" }));
    if (Array.isArray(v)) return el("label", {}, t("{label} (comma-separated)", { label }), el("input", { name, "data-kind": "list", value: v.join(", ") }));
    return el("label", {}, label, String(v).length > 60 || /text|confirmation/.test(k)
      ? el("textarea", { name, rows: "2" }, v || "") : el("input", { name, value: v == null ? "" : String(v) }));
  });
}
function readJson(formEl, template) {
  const out = structuredClone(template);
  for (const input of formEl.querySelectorAll("[name]")) {
    const keys = input.name.split(".");
    let at = out;
    for (const k of keys.slice(0, -1)) at = at[k];
    const last = keys[keys.length - 1];
    const kind = input.dataset.kind;
    at[last] = kind === "bool" ? input.checked : kind === "number" ? Number(input.value) : kind === "list" ? input.value.split(",").map((s) => s.trim()).filter(Boolean) : input.value;
  }
  return out;
}

// ---- Inboxes: the channels, their credentials, test connection, webhook URL, members.
const KINDS = {
  twilio: [t("SMS / MMS (Twilio)"), [["account_sid", t("Account SID"), { required: true, placeholder: "AC…" }], ["auth_token", t("Auth token"), { type: "password", required: true }], ["from", t("Sending number or Messaging Service SID"), { required: true, placeholder: "+15017122661" }]]],
  whatsapp: [t("WhatsApp (Cloud API)"), [["phone_number_id", t("Phone number ID"), { required: true }], ["access_token", t("Access token"), { type: "password", required: true }], ["app_secret", t("App secret"), { type: "password", required: true }], ["waba_id", t("WhatsApp Business Account ID (to list approved templates)")]]],
  messenger: [t("Messenger"), [["page_id", t("Page ID"), { required: true }], ["access_token", t("Page access token"), { type: "password", required: true }], ["app_secret", t("App secret"), { type: "password", required: true }]]],
  instagram: [t("Instagram"), [["page_id", t("Page or account ID"), { required: true }], ["access_token", t("Access token"), { type: "password", required: true }], ["app_secret", t("App secret"), { type: "password", required: true }]]],
  telegram: [t("Telegram"), [["bot_token", t("Bot token"), { type: "password", required: true }]]],
  line: [t("LINE"), [["channel_secret", t("Channel secret"), { type: "password", required: true }], ["access_token", t("Channel access token"), { type: "password", required: true }]]],
  widget: [t("Website chat"), [["website_url", t("Website address"), { placeholder: "https://www.example.com" }], ["greeting", t("Greeting")], ["color", t("Colour"), { type: "color", value: "#0b5cad" }]]],
  email: [t("Email"), [["address", t("Support address"), { required: true }], ["from_name", t("Sender name")], ["smtp.host", t("SMTP host"), { required: true }], ["smtp.port", t("SMTP port"), { type: "number", placeholder: "587" }], ["smtp.username", t("SMTP username")], ["smtp.password", t("SMTP password"), { type: "password" }], ["imap.host", t("IMAP host")], ["imap.username", t("IMAP username")], ["imap.password", t("IMAP password"), { type: "password" }]]],
  api: [t("API (your own system)"), [["callback_url", t("Callback URL for replies"), { placeholder: "https://example.com/parley" }]]],
};
screen({ key: "inboxes", title: t("Inboxes"), roles: ["admin"], render: async (body) => {
  const [list, users] = [(await api("/api/v1/inboxes")).items, state.users];
  const rows = await Promise.all(list.map(async (i) => {
    const members = (await api(`/api/v1/inboxes/${i.id}/members`)).items || [];
    const result = el("span", { class: "result", role: "status" });
    const test = ["twilio", "whatsapp", "messenger", "instagram", "telegram", "line", "email"].includes(i.kind)
      ? el("button", { type: "button", class: "secondary", "data-test": i.id, onclick: async () => {
        result.textContent = t("Asking…");
        try { const r = await api(`/api/v1/inboxes/${i.id}/test`, { method: "POST", body: "{}" }); result.className = r.ok ? "result ok" : "result error"; result.textContent = r.detail; } catch (err) { result.className = "result error"; result.textContent = err.message; }
      } }, t("Test connection")) : null;
    const who = el("details", {}, el("summary", {}, members.length === 1 ? t("1 member") : t("{n} members", { n: members.length })),
      ...users.filter((u) => u.role !== "admin").map((u) => el("label", { class: "inline" }, el("input", { type: "checkbox", checked: members.some((m) => m.id === u.id),
        onchange: async (e) => { try { await api(`/api/v1/inboxes/${i.id}/members/${u.id}`, { method: e.target.checked ? "PUT" : "DELETE" }); toast(t(e.target.checked ? "{name} added to {inbox}" : "{name} taken off {inbox}", { name: u.name, inbox: i.name })); } catch (err) { toast(err.message, "warning"); } } }), u.name)));
    // What the provider's console needs besides the URL: Meta's verify token, or the API
    // channel's signing secret.
    const extra = i.verify_token ? el("div", {}, el("span", { class: "muted small" }, t("Verify token ")), copyable(`verify-${i.id}`, i.verify_token))
      : i.kind === "api" && i.secret ? el("div", {}, el("span", { class: "muted small" }, t("Signing secret ")), copyable(`secret-${i.id}`, i.secret)) : null;
    // Renaming, the sending rate, the API channel's callback, and the channel's credentials:
    // the stored values are shown except secrets, which stay as they are when left empty.
    const settings = i.settings || {};
    const stored = (name) => { const [a, b] = name.split("."); const v = b ? (settings[a] || {})[b] : settings[a]; return v == null ? "" : String(v); };
    const channel = ["widget", "api"].includes(i.kind) ? [] : KINDS[i.kind][1].map(([name, label, o]) =>
      [name, label, o.type === "password" ? { type: "password", placeholder: t("unchanged") } : { ...o, required: false, value: stored(name) }]);
    const edit = el("details", {}, el("summary", {}, t("Edit")), form(`edit-${i.id}`, [
      ["name", t("Name"), { value: i.name, required: true }],
      ["rate_limit", t("Messages per second (empty: no limit)"), { type: "number", value: settings.rate_limit == null ? "" : String(settings.rate_limit), clearable: true }],
      ...(i.kind === "api" ? [["callback_url", t("Callback URL"), { value: settings.callback_url || "" }]] : []),
      ...channel,
    ], t("Save"), async (v) => {
      const patch = { name: v.name, rate_limit: v.rate_limit === "" || v.rate_limit === undefined ? null : Number(v.rate_limit) };
      if (v.callback_url !== undefined) patch.callback_url = v.callback_url;
      // Only what changed is sent; the relay and the mailbox go whole, their other parts as stored.
      for (const [name] of channel) {
        if (v[name] === undefined || v[name] === stored(name)) continue;
        const [a, b] = name.split(".");
        if (b) { patch[a] = patch[a] || { ...settings[a] }; patch[a][b] = b === "port" ? Number(v[name]) : v[name]; } else patch[a] = v[name];
      }
      await api(`/api/v1/inboxes/${i.id}`, { method: "PATCH", body: JSON.stringify(patch) });
      await reload();
      toast(t("Saved"));
      show("inboxes");
    }));
    // Admins get each inbox's outbox: a provider that holds replies back shows here.
    const b = i.backlog;
    const backlog = b && (b.queued || b.in_flight) ? el("div", { class: "muted" }, t("Outbox: {queued} waiting, {in_flight} sending", b)) : null;
    return [el("div", {}, el("strong", {}, i.name), backlog, edit), ICONS[i.kind] || i.kind,
      i.webhook_url ? el("div", {}, copyable(`hook-${i.id}`, i.webhook_url), extra) : i.snippet ? el("span", { class: "muted" }, t("See Website chat")) : el("span", { class: "muted" }, "—"),
      el("span", {}, test, " ", result), who];
  }));
  const kind = el("select", { id: "new-kind", "aria-label": t("Channel") }, ...Object.entries(KINDS).map(([k, [label]]) => el("option", { value: k }, label)));
  const holder = el("div");
  const draw = () => {
    const fields = [["name", t("Name"), { required: true }], ...KINDS[kind.value][1], ["api_base_url", t("Provider API address (leave empty for the real one)"), { placeholder: "https://…", hidden: ["widget", "email", "api"].includes(kind.value) }]];
    holder.replaceChildren(form("new-inbox", fields, t("Add inbox"), async (v, out) => {
      const req = { kind: kind.value };
      for (const [k, val] of Object.entries(v)) {
        const [a, b] = k.split(".");
        if (b) { req[a] = req[a] || {}; req[a][b] = b === "port" ? Number(val) : val; } else req[a] = val;
      }
      const made = await api("/api/v1/inboxes", { method: "POST", body: JSON.stringify(req) });
      await reload();
      await show("inboxes");
      toast(made.webhook_url ? t("Inbox {name} added. Paste its webhook URL (in the table) into the provider's console.", { name: made.name }) : t("Inbox {name} added.", { name: made.name }));
    }));
  };
  kind.addEventListener("change", draw);
  draw();
  body.append(
    table(["Inbox", "Channel", "Webhook URL", "Connection", "Agents"], rows),
    el("h3", {}, t("Add an inbox")), el("label", {}, t("Channel"), kind), holder);
} });

// ---- Agents: roles, and who works which inbox is on Inboxes.
screen({ key: "agents", title: t("Agents and roles"), roles: ["admin"], render: async (body) => {
  const list = (await api("/api/v1/users")).items.filter((u) => !u.bot);
  const roles = [["agent", t("Agent")], ["supervisor", t("Supervisor")], ["admin", t("Admin")]];
  body.append(
    table(["Name", "Email", "Role", ""], list.map((u) => [u.name, u.email,
      el("select", { "aria-label": t("Role of {name}", { name: u.name }), onchange: async (e) => { try { await api(`/api/v1/users/${u.id}`, { method: "PATCH", body: JSON.stringify({ role: e.target.value }) }); toast(t("Role changed")); } catch (err) { toast(err.message, "warning"); } } },
        ...roles.map(([v, label]) => el("option", { value: v, selected: v === u.role }, label))),
      u.id === state.me.id ? "" : el("button", { type: "button", class: "secondary", onclick: async () => {
        if (!await confirmDialog(t("Remove {name}?", { name: u.name }), { confirm: t("Remove"), danger: true })) return;
        try { await api(`/api/v1/users/${u.id}`, { method: "DELETE" }); show("agents"); } catch (err) { toast(err.message, "warning"); }
      } }, t("Remove"))])),
    el("h3", {}, t("Add someone")),
    form("new-user", [["name", t("Name"), { required: true }], ["email", t("Email"), { type: "email", required: true }], ["password", t("First password (12+ characters)"), { type: "password", required: true }], ["role", t("Role"), { options: roles, value: "agent" }]], t("Add"), async (v) => {
      await api("/api/v1/users", { method: "POST", body: JSON.stringify(v) });
      await reload(); show("agents"); toast(t("{name} can sign in now", { name: v.name }));
    }));
} });

// ---- Bots: they answer through an API token in their inboxes and hand off to people.
screen({ key: "bots", title: t("Bots"), roles: ["admin"], render: async (body) => {
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
      const made = await api("/api/v1/bots", { method: "POST", body: JSON.stringify({ name: name.value.trim(), inbox_ids: boxes.map((b) => b.querySelector("input")).filter((x) => x.checked).map((x) => x.value) }) });
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
} });

screen({ key: "teams", title: t("Teams"), roles: ["admin"], render: async (body) => {
  const list = (await api("/api/v1/teams")).items;
  const users = state.users;
  body.append(
    table(["Team", "Members", ""], list.map((team) => [team.name,
      el("div", {}, ...users.map((u) => el("label", { class: "inline" }, el("input", { type: "checkbox", checked: (team.members || []).some((m) => (m.id || m) === u.id),
        onchange: async (e) => { try { await api(`/api/v1/teams/${team.id}/members/${u.id}`, { method: e.target.checked ? "PUT" : "DELETE" }); } catch (err) { e.target.checked = !e.target.checked; toast(err.message, "warning"); } } }), u.name))),
      el("button", { type: "button", class: "secondary", onclick: async () => {
        if (!await confirmDialog(t("Delete {name}?", { name: team.name }), { confirm: t("Delete"), danger: true })) return;
        try { await api(`/api/v1/teams/${team.id}`, { method: "DELETE" }); await reload(); show("teams"); } catch (err) { toast(err.message, "warning"); }
      } }, t("Delete"))])),
    form("new-team", [["name", t("New team"), { required: true }]], t("Create"), async (v) => {
      await api("/api/v1/teams", { method: "POST", body: JSON.stringify(v) }); await reload(); show("teams");
    }));
} });

// ---- Contact lists: agents put contacts on them from the customer panel.
screen({ key: "lists", title: t("Contact lists"), roles: ["admin", "supervisor"], render: async (body) => {
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
} });

screen({ key: "replies", title: t("Saved replies"), roles: ["admin"], render: async (body) => {
  const items = (await api("/api/v1/replies")).items;
  const put = async (next) => { await api("/api/v1/replies", { method: "PUT", body: JSON.stringify({ items: next }) }); await reload(); show("replies"); };
  body.append(
    el("p", { class: "muted" }, t("Agents insert these by typing / and the shortcut in the composer, or from its Saved replies menu.")),
    table(["Shortcut", "Text", ""], items.map((r, i) => [`/${r.shortcut}`, r.body,
      el("button", { type: "button", class: "secondary", onclick: () => put(items.filter((_, j) => j !== i)) }, t("Remove"))])),
    form("new-reply", [["shortcut", t("Shortcut"), { required: true, placeholder: "thanks" }], ["body", t("Text"), { type: "textarea" }]], t("Add"), (v) => put([...items, { shortcut: v.shortcut, body: v.body || "" }])));
} });

// ---- Service levels: how soon a waiting customer must be answered; the inbox's rows count down.
screen({ key: "sla", title: t("Service levels (SLA)"), roles: ["admin"], render: async (body) => {
  const policies = (await api("/api/v1/sla")).policies;
  const inboxes = state.inboxes;
  const put = async (next) => { await api("/api/v1/sla", { method: "PUT", body: JSON.stringify({ policies: next }) }); show("sla"); };
  const change = (next) => put(next).catch((err) => toast(err.message, "warning"));
  const minutes = (m) => m ? t("{n} min", { n: m }) : t("none");
  const inboxName = (id) => (inboxes.find((i) => i.id === id) || { name: id }).name;
  const covers = (p) => `${p.inbox_id ? inboxName(p.inbox_id) : t("Every inbox")} · ${p.priority ? t(p.priority) : t("any priority")}`;
  const up = (i) => [...policies.slice(0, i - 1), policies[i], policies[i - 1], ...policies.slice(i + 1)];
  const PRIORITIES = ["urgent", "high", "normal", "low"];
  body.append(
    el("p", { class: "muted" }, t("The first policy that matches a conversation's inbox and priority sets how soon its waiting customer must be answered: the first response, then each next one. The inbox shows the time left on each row; pending and snoozed conversations show no clock. A customer writing again to a resolved conversation is owed a next response.")),
    table(["Policy", "Applies to", "First response", "Next response", ""], policies.map((p, i) => [p.name, covers(p),
      minutes(p.first_response_minutes), minutes(p.next_response_minutes),
      el("span", { class: "actions" },
        i > 0 ? el("button", { type: "button", class: "secondary", "aria-label": t("Move {name} up", { name: p.name }), onclick: () => change(up(i)) }, t("Move up")) : "",
        el("button", { type: "button", class: "secondary", "aria-label": t("Remove {name}", { name: p.name }), onclick: () => change(policies.filter((_, j) => j !== i)) }, t("Remove")))])),
    form("new-sla", [["name", t("Name"), { required: true, placeholder: t("Standard") }],
      ["inbox_id", t("Inbox"), { options: [["", t("Every inbox")], ...inboxes.map((i) => [i.id, i.name])] }],
      ["priority", t("Priority"), { options: [["", t("Any priority")], ...PRIORITIES.map((x) => [x, t(x)])] }],
      ["first_response_minutes", t("First response within (minutes)"), { type: "number", placeholder: "60" }],
      ["next_response_minutes", t("Next response within (minutes)"), { type: "number", placeholder: "30" }]], t("Add"), (v) => {
      const p = { name: v.name };
      if (v.inbox_id) p.inbox_id = v.inbox_id;
      if (v.priority) p.priority = v.priority;
      for (const k of ["first_response_minutes", "next_response_minutes"]) if (v[k]) p[k] = Number(v[k]);
      return put([...policies, p]);
    }));
} });

// ---- The satisfaction survey sent when a conversation is resolved; answers show on its timeline.
screen({ key: "survey", title: t("Satisfaction survey"), roles: ["admin"], render: async (body) => {
  const now = await api("/api/v1/survey");
  const enabled = el("input", { type: "checkbox", name: "enabled", checked: now.enabled });
  const message = el("textarea", { name: "message", rows: "3" }, now.message);
  const out = el("p", { class: "result", role: "status" });
  const f = el("form", { id: "survey", class: "stack" },
    el("label", { class: "inline" }, enabled, t("Send a survey when an agent resolves a conversation that was answered")),
    el("label", {}, t("Message ({link} becomes the survey's address)"), message), el("button", {}, t("Save")), out);
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("/api/v1/survey", { method: "PUT", body: JSON.stringify({ enabled: enabled.checked, message: message.value }) });
      toast(t("Saved")); show("survey");
    } catch (err) { out.className = "result error"; out.textContent = err.message; }
  });
  body.append(el("p", { class: "muted" }, t("The customer gets a link to rate the conversation from 1 to 5 and say why; the link works for 7 days. Their answer appears on the conversation's timeline. Channels that are closed at that moment (WhatsApp after 24 hours) and blocked contacts get none.")), f);
} });

screen({ key: "compliance", title: t("Compliance"), roles: ["admin"], render: async (body) => {
  const { settings, texts } = await api("/api/v1/compliance/settings");
  const f = el("form", { id: "compliance", class: "stack" }, ...jsonFields(settings), el("button", {}, t("Save")), el("p", { class: "result", role: "status" }));
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await api("/api/v1/compliance/settings", { method: "PUT", body: JSON.stringify(readJson(f, settings)) }); toast(t("Saved")); show("compliance"); } catch (err) { f.querySelector(".result").className = "result error"; f.querySelector(".result").textContent = err.message; }
  });
  body.append(el("h3", {}, t("What customers receive")), el("dl", {}, ...Object.entries(texts).flatMap(([k, v]) => [el("dt", {}, k.replace(/_/g, " ")), el("dd", {}, v)])),
    el("h3", {}, t("Rules")), f);
} });

screen({ key: "consent", title: t("Consent records"), roles: ["admin"], render: async (body) => {
  const out = el("div", { id: "consent-results" });
  body.append(form("find-consent", [["q", t("Find a contact (name, phone or email)"), { required: true }]], t("Find"), async (v) => {
    const found = (await api(`/api/v1/contacts?q=${encodeURIComponent(v.q)}`)).items;
    out.replaceChildren(...await Promise.all(found.slice(0, 10).map(async (c) => el("section", { class: "card" },
      el("h3", {}, c.name || c.phone || c.email || c.id),
      consentView(await api(`/api/v1/contacts/${c.id}/consent`)),
      el("a", { href: `/api/v1/contacts/${c.id}/consent/export?format=csv` }, t("Export (CSV)")), " ",
      el("a", { href: `/api/v1/contacts/${c.id}/consent/export?format=json` }, t("Export (JSON)"))))));
    if (!found.length) out.textContent = t("Nobody found.");
  }), out);
} });

screen({ key: "retention", title: t("Retention"), roles: ["admin"], render: async (body) => {
  const r = await api("/api/v1/retention");
  body.append(
    el("p", {}, r.retention_days ? t("Message bodies and files are deleted {days} days after they were written.", { days: r.retention_days }) : t("Messages are kept until they are deleted or their contact is erased.")),
    r.retention_days ? el("p", {}, r.next.oldest ? t("The next hourly run empties {n} messages, the oldest from {time}.", { n: r.next.messages, time: when(r.next.oldest) }) : t("The next hourly run empties {n} messages.", { n: r.next.messages })) : null,
    el("p", { class: "muted" }, t("Change the period under Compliance (retention days).")));
} });

screen({ key: "encryption", title: t("Encryption"), roles: ["admin"], render: async (body) => {
  const e = await api("/api/v1/encryption");
  body.append(el("p", { id: "encryption-state" }, e.enabled
    ? t("Encryption at rest is on: names, addresses, messages, notes, files and credentials are sealed under data key {key} (keys in use: {keys}).", { key: e.current_key, keys: e.data_keys.join(", ") })
    : t("Encryption at rest is off. Start the server with a master key (parley keys generate, then --master-key-file) and run parley keys encrypt.")),
  el("p", { class: "muted" }, t("Rotate the data key with parley keys rotate; wrap the keys under a new master key with parley keys rewrap.")));
} });

screen({ key: "audit", title: t("Audit log"), roles: ["admin"], render: async (body) => {
  const items = (await api("/api/v1/audit?limit=200")).items;
  const users = state.users;
  body.append(
    el("p", {}, el("a", { href: "/api/v1/audit/export?format=csv" }, t("Export all (CSV)")), " · ", el("a", { href: "/api/v1/audit/export?format=json" }, t("Export all (JSON)"))),
    table(["When", "Who", "What", "Target", "From"], items.map((a) => [when(a.at), (users.find((u) => u.id === a.actor_id) || {}).name || a.actor_id || "Parley", a.action, a.target, a.ip || ""])));
} });

screen({ key: "exports", title: t("Exports"), roles: ["admin"], render: async (body) => {
  const day = (d) => d.toISOString().slice(0, 10);
  const out = el("p");
  body.append(el("p", { class: "muted" }, t("Every conversation active in the range, with its entries in the range.")),
    form("export", [["from", t("From"), { type: "date", value: day(new Date(Date.now() - 30 * 86400e3)), required: true }], ["to", t("To"), { type: "date", value: day(new Date(Date.now() + 86400e3)), required: true }], ["format", t("Format"), { options: [["csv", t("CSV")], ["json", t("JSON")]], value: "csv" }]], t("Prepare link"), async (v) => {
      const href = `/api/v1/exports/conversations?from=${new Date(v.from).toISOString()}&to=${new Date(v.to).toISOString()}&format=${v.format}`;
      out.replaceChildren(el("a", { href, id: "export-link" }, t("Download the export")));
    }), out);
} });

screen({ key: "tokens", title: t("API tokens"), roles: ["admin", "supervisor", "agent"], render: async (body) => {
  const items = (await api("/api/v1/tokens")).items.filter((tk) => !tk.revoked_at);
  const shown = el("div");
  body.append(
    el("p", { class: "muted" }, t("Personal tokens act as you in the API (Authorization: Bearer …).")),
    table(["Name", "Created", ""], items.map((tk) => [tk.name, when(tk.created_at),
      el("button", { type: "button", class: "secondary", onclick: async () => { try { await api(`/api/v1/tokens/${tk.id}`, { method: "DELETE" }); show("tokens"); } catch (err) { toast(err.message, "warning"); } } }, t("Revoke"))])),
    form("new-token", [["name", t("Name"), { required: true }]], t("Create token"), async (v) => {
      const made = await api("/api/v1/tokens", { method: "POST", body: JSON.stringify(v) });
      await show("tokens");
      $body().prepend(el("div", { class: "card" }, el("p", {}, t("Copy the token now; it is not shown again.")), copyable("token-value", made.token)));
    }), shown);
} });

screen({ key: "widget", title: t("Website chat"), roles: ["admin"], render: async (body) => {
  const widgets = (await api("/api/v1/inboxes")).items.filter((i) => i.kind === "widget");
  if (!widgets.length) body.append(el("p", {}, t("No website chat yet: add an inbox of channel Website chat under Inboxes.")));
  for (const w of widgets) {
    const s = w.settings || {};
    body.append(el("section", { class: "card" }, el("h3", {}, w.name),
      el("p", {}, t("Paste this before </body> on every page of your site:")), copyable(`snippet-${w.id}`, w.snippet || ""),
      form(`widget-${w.id}`, [["website_url", t("Website address"), { value: s.website_origin || "", clearable: true }], ["greeting", t("Greeting"), { value: s.greeting || "", clearable: true }], ["color", t("Colour"), { type: "color", value: s.color || "#0b5cad" }], ["prechat_fields", t("Ask before the chat (comma-separated: name, email, phone)"), { value: (s.prechat_fields || []).join(", ") }]], t("Save"), async (v) => {
        const patch = { ...v, prechat_fields: (v.prechat_fields || "").split(",").map((x) => x.trim()).filter(Boolean) };
        await api(`/api/v1/inboxes/${w.id}`, { method: "PATCH", body: JSON.stringify(patch) });
        toast(t("Saved"));
      })));
  }
} });

const $body = () => document.querySelector("#settings-body");
// Shows a screen (the first the user may open when `key` is unknown).
export async function show(key) {
  const role = state.me && state.me.role;
  const allowed = SCREENS.filter((s) => s.roles.includes(role));
  const s = allowed.find((x) => x.key === key) || allowed[0];
  document.querySelector("#settings-nav").replaceChildren(...allowed.map((x) => el("li", {},
    el("a", { href: `#/settings/${x.key}`, "aria-current": x === s ? "page" : "false" }, x.title))));
  if (!s) return;
  const body = $body();
  body.replaceChildren(el("h2", { id: "settings-title" }, s.title));
  try { await s.render(body); } catch (err) { body.append(el("p", { class: "error" }, err.message)); }
}
