// Settings of the channels: the inboxes (credentials, connection test, webhook URL, members, a new
// inbox of any kind) and the website chat's snippet and appearance.
import { el, toast } from "./dom.js";
import { t } from "./i18n.js";
import { state, ICONS } from "./state.js";
import { api } from "./api.js";
import { reload } from "./app.js";
import { table, form, copyable } from "./settings-forms.js";
import { show } from "./settings.js";
import { openTestCustomer } from "./test-customer.js";

// ---- Inboxes: the channels, their credentials, test connection, webhook URL, members.
const KINDS = {
  twilio: [t("SMS / MMS (Twilio)"), [
    ["account_sid", t("Account SID"), { required: true, placeholder: "AC…" }],
    ["auth_token", t("Auth token"), { type: "password", required: true }],
    ["from", t("Sending number or Messaging Service SID"), { required: true, placeholder: "+15017122661" }]]],
  whatsapp: [t("WhatsApp (Cloud API)"), [
    ["phone_number_id", t("Phone number ID"), { required: true }],
    ["access_token", t("Access token"), { type: "password", required: true }],
    ["app_secret", t("App secret"), { type: "password", required: true }],
    ["waba_id", t("WhatsApp Business Account ID (to list approved templates)")]]],
  messenger: [t("Messenger"), [
    ["page_id", t("Page ID"), { required: true }],
    ["access_token", t("Page access token"), { type: "password", required: true }],
    ["app_secret", t("App secret"), { type: "password", required: true }]]],
  instagram: [t("Instagram"), [
    ["page_id", t("Page or account ID"), { required: true }],
    ["access_token", t("Access token"), { type: "password", required: true }],
    ["app_secret", t("App secret"), { type: "password", required: true }]]],
  telegram: [t("Telegram"), [["bot_token", t("Bot token"), { type: "password", required: true }]]],
  line: [t("LINE"), [["channel_secret", t("Channel secret"), { type: "password", required: true }], ["access_token", t("Channel access token"), { type: "password", required: true }]]],
  widget: [t("Website chat"), [
    ["website_url", t("Website address"), { placeholder: "https://www.example.com" }],
    ["greeting", t("Greeting")],
    ["color", t("Colour"), { type: "color", value: "#0b5cad" }]]],
  email: [t("Email"), [
    ["address", t("Support address"), { required: true }], ["from_name", t("Sender name")],
    ["smtp.host", t("SMTP host"), { required: true }], ["smtp.port", t("SMTP port"), { type: "number", placeholder: "587" }],
    ["smtp.username", t("SMTP username")], ["smtp.password", t("SMTP password"), { type: "password" }],
    ["imap.host", t("IMAP host")], ["imap.username", t("IMAP username")], ["imap.password", t("IMAP password"), { type: "password" }]]],
  api: [t("API (your own system)"), [["callback_url", t("Callback URL for replies"), { placeholder: "https://example.com/parley" }]]],
};
// Asks the provider whether the inbox's credentials work, for the channels that have one to ask.
function testConnection(i) {
  const result = el("span", { class: "result", role: "status" });
  const test = ["twilio", "whatsapp", "messenger", "instagram", "telegram", "line", "email"].includes(i.kind)
    ? el("button", { type: "button", class: "secondary", "data-test": i.id, onclick: async () => {
      result.textContent = t("Asking…");
      try {
        const r = await api(`/api/v1/inboxes/${i.id}/test`, { method: "POST", body: "{}" });
        result.className = r.ok ? "result ok" : "result error";
        result.textContent = r.detail;
      } catch (err) { result.className = "result error"; result.textContent = err.message; }
    } }, t("Test connection")) : null;
  return [test, result];
}

// Which agents work the inbox (admins work every one).
function membersPart(i, members) {
  return el("details", {}, el("summary", {}, members.length === 1 ? t("1 member") : t("{n} members", { n: members.length })),
    ...state.users.filter((u) => u.role !== "admin").map((u) => el("label", { class: "inline" }, el("input", { type: "checkbox", checked: members.some((m) => m.id === u.id),
      onchange: async (e) => {
        const on = e.target.checked;
        try {
          await api(`/api/v1/inboxes/${i.id}/members/${u.id}`, { method: on ? "PUT" : "DELETE" });
          toast(t(on ? "{name} added to {inbox}" : "{name} taken off {inbox}", { name: u.name, inbox: i.name }));
        } catch (err) { toast(err.message, "warning"); }
      } }), u.name)));
}

// Renaming, the sending rate, the API channel's callback, and the channel's credentials: the stored
// values are shown except secrets, which stay as they are when left empty.
function editPart(i) {
  const settings = i.settings || {};
  const stored = (name) => { const [a, b] = name.split("."); const v = b ? (settings[a] || {})[b] : settings[a]; return v == null ? "" : String(v); };
  const channel = ["widget", "api"].includes(i.kind) ? [] : KINDS[i.kind][1].map(([name, label, o]) =>
    [name, label, o.type === "password" ? { type: "password", placeholder: t("unchanged") } : { ...o, required: false, value: stored(name) }]);
  return el("details", {}, el("summary", {}, t("Edit")), form(`edit-${i.id}`, [
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
}

// One row of the inboxes table: the inbox and its settings, channel, webhook, connection, agents.
async function inboxRow(i) {
  const members = (await api(`/api/v1/inboxes/${i.id}/members`)).items || [];
  const [test, result] = testConnection(i);
  // What the provider's console needs besides the URL: Meta's verify token, or the API
  // channel's signing secret.
  const extra = i.verify_token ? el("div", {}, el("span", { class: "muted small" }, t("Verify token ")), copyable(`verify-${i.id}`, i.verify_token))
    : i.kind === "api" && i.secret ? el("div", {}, el("span", { class: "muted small" }, t("Signing secret ")), copyable(`secret-${i.id}`, i.secret)) : null;
  // Admins get each inbox's outbox: a provider that holds replies back shows here.
  const b = i.backlog;
  const backlog = b && (b.queued || b.in_flight) ? el("div", { class: "muted" }, t("Outbox: {queued} waiting, {in_flight} sending", b)) : null;
  return [el("div", {}, el("strong", {}, i.name), backlog, editPart(i)), ICONS[i.kind] || i.kind,
    i.webhook_url ? el("div", {}, copyable(`hook-${i.id}`, i.webhook_url), extra) : i.snippet ? el("span", { class: "muted" }, t("See Website chat")) : el("span", { class: "muted" }, "—"),
    el("span", {}, test, " ", result, " ", el("button", { type: "button", class: "secondary", "data-test-customer": i.id, onclick: () => openTestCustomer(i.id) }, t("Test customer"))), membersPart(i, members)];
}

// A new inbox of the kind picked; the form changes with the kind.
function newInbox() {
  const kind = el("select", { id: "new-kind", "aria-label": t("Channel") }, ...Object.entries(KINDS).map(([k, [label]]) => el("option", { value: k }, label)));
  const holder = el("div");
  const draw = () => {
    const hideBase = ["widget", "email", "api"].includes(kind.value);
    const fields = [["name", t("Name"), { required: true }], ...KINDS[kind.value][1],
      ["api_base_url", t("Provider API address (leave empty for the real one)"), { placeholder: "https://…", hidden: hideBase }]];
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
  return [el("label", {}, t("Channel"), kind), holder];
}

export const inboxes = { key: "inboxes", title: t("Inboxes"), roles: ["admin"], render: async (body) => {
  const rows = await Promise.all((await api("/api/v1/inboxes")).items.map(inboxRow));
  body.append(
    table(["Inbox", "Channel", "Webhook URL", "Connection", "Agents"], rows),
    el("h3", {}, t("Add an inbox")), ...newInbox());
} };

export const widget = { key: "widget", title: t("Website chat"), roles: ["admin"], render: async (body) => {
  const widgets = (await api("/api/v1/inboxes")).items.filter((i) => i.kind === "widget");
  if (!widgets.length) body.append(el("p", {}, t("No website chat yet: add an inbox of channel Website chat under Inboxes.")));
  for (const w of widgets) {
    const s = w.settings || {};
    body.append(el("section", { class: "card" }, el("h3", {}, w.name),
      el("p", {}, t("Paste this before </body> on every page of your site:")), copyable(`snippet-${w.id}`, w.snippet || ""),
      form(`widget-${w.id}`, [
        ["website_url", t("Website address"), { value: s.website_origin || "", clearable: true }],
        ["greeting", t("Greeting"), { value: s.greeting || "", clearable: true }],
        ["color", t("Colour"), { type: "color", value: s.color || "#0b5cad" }],
        ["prechat_fields", t("Ask before the chat (comma-separated: name, email, phone)"), { value: (s.prechat_fields || []).join(", ") }],
      ], t("Save"), async (v) => {
        const patch = { ...v, prechat_fields: (v.prechat_fields || "").split(",").map((x) => x.trim()).filter(Boolean) };
        await api(`/api/v1/inboxes/${w.id}`, { method: "PATCH", body: JSON.stringify(patch) });
        toast(t("Saved"));
      })));
  }
} };
