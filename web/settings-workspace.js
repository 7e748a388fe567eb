// Settings of how the workspace works: service levels, the satisfaction survey,
// compliance and consent records, retention, encryption, the audit log, exports and API tokens.
import { el, toast, when } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./state.js";
import { api } from "./api.js";
import { consentView } from "./panel.js";
import { table, form, copyable, jsonFields, readJson } from "./settings-forms.js";
import { show } from "./settings.js";

const $body = () => document.querySelector("#settings-body");

// ---- Service levels: how soon a waiting customer must be answered; the inbox's rows count down.
export const sla = { key: "sla", title: t("Service levels (SLA)"), roles: ["admin"], render: async (body) => {
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
} };

// ---- The satisfaction survey sent when a conversation is resolved; answers show on its timeline.
export const survey = { key: "survey", title: t("Satisfaction survey"), roles: ["admin"], render: async (body) => {
  const now = await api("/api/v1/survey");
  const enabled = el("input", { type: "checkbox", name: "enabled", checked: now.enabled });
  const message = el("textarea", { name: "message", rows: "3" }, now.message);
  const ways = [["link", t("On the survey's page (a link)")], ["reply", t("By replying with a rating")], ["both", t("Either")]];
  const answerBy = el("select", { name: "answer_by" },
    ...ways.map(([v, label]) => el("option", { value: v, selected: v === (now.answer_by || "link") }, label)));
  const out = el("p", { class: "result", role: "status" });
  const f = el("form", { id: "survey", class: "stack" },
    el("label", { class: "inline" }, enabled, t("Send a survey when an agent resolves a conversation that was answered")),
    el("label", {}, t("Customers answer"), answerBy),
    el("label", {}, t("Message ({link} becomes the survey's address; leave it out when customers answer by reply)"), message), el("button", {}, t("Save")), out);
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("/api/v1/survey", { method: "PUT", body: JSON.stringify({ enabled: enabled.checked, message: message.value, answer_by: answerBy.value }) });
      toast(t("Saved")); show("survey");
    } catch (err) { out.className = "result error"; out.textContent = err.message; }
  });
  body.append(el("p", { class: "muted" }, t("The customer gets a link to rate the conversation from 1 to 5 and say why; the link works for 7 days. Or they reply with a rating (“5”, “4/5”, “five”, stars, a thumb up or down; on channels with buttons they tap one) within those 7 days: the conversation stays resolved. Their answer appears on the conversation's timeline. Channels that are closed at that moment (WhatsApp after 24 hours) and blocked contacts get none.")), f);
} };

export const compliance = { key: "compliance", title: t("Compliance"), roles: ["admin"], render: async (body) => {
  const { settings, texts } = await api("/api/v1/compliance/settings");
  const f = el("form", { id: "compliance", class: "stack" }, ...jsonFields(settings), el("button", {}, t("Save")), el("p", { class: "result", role: "status" }));
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = f.querySelector(".result");
    try {
      await api("/api/v1/compliance/settings", { method: "PUT", body: JSON.stringify(readJson(f, settings)) });
      toast(t("Saved")); show("compliance");
    } catch (err) { out.className = "result error"; out.textContent = err.message; }
  });
  body.append(el("h3", {}, t("What customers receive")), el("dl", {}, ...Object.entries(texts).flatMap(([k, v]) => [el("dt", {}, k.replace(/_/g, " ")), el("dd", {}, v)])),
    el("h3", {}, t("Rules")), f);
} };

export const consent = { key: "consent", title: t("Consent records"), roles: ["admin"], render: async (body) => {
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
} };

export const retention = { key: "retention", title: t("Retention"), roles: ["admin"], render: async (body) => {
  const r = await api("/api/v1/retention");
  body.append(
    el("p", {}, r.retention_days ? t("Message bodies and files are deleted {days} days after they were written.", { days: r.retention_days }) : t("Messages are kept until they are deleted or their contact is erased.")),
    r.retention_days ? el("p", {}, r.next.oldest
      ? t("The next hourly run empties {n} messages, the oldest from {time}.", { n: r.next.messages, time: when(r.next.oldest) })
      : t("The next hourly run empties {n} messages.", { n: r.next.messages })) : null,
    el("p", { class: "muted" }, t("Change the period under Compliance (retention days).")));
} };

export const encryption = { key: "encryption", title: t("Encryption"), roles: ["admin"], render: async (body) => {
  const e = await api("/api/v1/encryption");
  body.append(el("p", { id: "encryption-state" }, e.enabled
    ? t("Encryption at rest is on: names, addresses, messages, notes, files and credentials are sealed under data key {key} (keys in use: {keys}).", { key: e.current_key, keys: e.data_keys.join(", ") })
    : t("Encryption at rest is off. Start the server with a master key (parley keys generate, then --master-key-file) and run parley keys encrypt.")),
  el("p", { class: "muted" }, t("Rotate the data key with parley keys rotate; wrap the keys under a new master key with parley keys rewrap.")));
} };

export const audit = { key: "audit", title: t("Audit log"), roles: ["admin"], render: async (body) => {
  const items = (await api("/api/v1/audit?limit=200")).items;
  const users = state.users;
  body.append(
    el("p", {}, el("a", { href: "/api/v1/audit/export?format=csv" }, t("Export all (CSV)")), " · ", el("a", { href: "/api/v1/audit/export?format=json" }, t("Export all (JSON)"))),
    table(["When", "Who", "What", "Target", "From"], items.map((a) => [when(a.at), (users.find((u) => u.id === a.actor_id) || {}).name || a.actor_id || "Parley", a.action, a.target, a.ip || ""])));
} };

export const exports = { key: "exports", title: t("Exports"), roles: ["admin"], render: async (body) => {
  const day = (d) => d.toISOString().slice(0, 10);
  const out = el("p");
  body.append(el("p", { class: "muted" }, t("Every conversation active in the range, with its entries in the range.")),
    form("export", [
      ["from", t("From"), { type: "date", value: day(new Date(Date.now() - 30 * 86400e3)), required: true }],
      ["to", t("To"), { type: "date", value: day(new Date(Date.now() + 86400e3)), required: true }],
      ["format", t("Format"), { options: [["csv", t("CSV")], ["json", t("JSON")]], value: "csv" }],
    ], t("Prepare link"), async (v) => {
      const href = `/api/v1/exports/conversations?from=${new Date(v.from).toISOString()}&to=${new Date(v.to).toISOString()}&format=${v.format}`;
      out.replaceChildren(el("a", { href, id: "export-link" }, t("Download the export")));
    }), out);
} };

export const tokens = { key: "tokens", title: t("API tokens"), roles: ["admin", "supervisor", "agent"], render: async (body) => {
  const items = (await api("/api/v1/tokens")).items.filter((tk) => !tk.revoked_at);
  const shown = el("div");
  body.append(
    el("p", { class: "muted" }, t("Personal tokens act as you in the API (Authorization: Bearer …).")),
    table(["Name", "Created", ""], items.map((tk) => [tk.name, when(tk.created_at),
      el("button", { type: "button", class: "secondary", onclick: async () => {
        try { await api(`/api/v1/tokens/${tk.id}`, { method: "DELETE" }); show("tokens"); } catch (err) { toast(err.message, "warning"); }
      } }, t("Revoke"))])),
    form("new-token", [["name", t("Name"), { required: true }]], t("Create token"), async (v) => {
      const made = await api("/api/v1/tokens", { method: "POST", body: JSON.stringify(v) });
      await show("tokens");
      $body().prepend(el("div", { class: "card" }, el("p", {}, t("Copy the token now; it is not shown again.")), copyable("token-value", made.token)));
    }), shown);
} };
