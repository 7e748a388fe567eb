// The test customer (admins): pick an inbox, write as a customer would, and watch what Parley
// answers (auto-replies, automations, agents' replies). Nothing sent to the test customer reaches
// the provider; it is marked delivered. "Start over" erases the test customer of that inbox.
import { el, toast, when } from "./dom.js";
import { t } from "./i18n.js";
import { state, ICONS } from "./state.js";
import { api } from "./api.js";

// The inbox picked, kept while the app is open (the inboxes screen's button sets it).
let chosen = null;

// Opens the panel on an inbox.
export function openTestCustomer(inboxId) {
  chosen = inboxId;
  if (location.hash === "#/settings/test-customer") window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = "#/settings/test-customer";
}

function bubble(m) {
  const mine = m.direction === "inbound";
  const who = mine ? t("Test customer") : m.sender_kind === "agent" ? t("Agent") : t("Parley");
  const status = mine ? "" : ` · ${m.status}${m.error ? ` (${m.error})` : ""}`;
  return el("li", { class: `msg ${m.direction}`, "data-test-message": m.id },
    el("div", { class: "muted small" }, `${who} · ${when(m.created_at)}${status}`),
    el("div", {}, m.body));
}

export const testCustomer = { key: "test-customer", title: t("Test customer"), roles: ["admin"], render: async (body) => {
  const inboxes = state.inboxes || [];
  if (!inboxes.length) { body.append(el("p", { class: "muted" }, t("Add an inbox first."))); return; }
  if (!inboxes.some((i) => i.id === chosen)) chosen = inboxes[0].id;
  const path = () => `/api/v1/inboxes/${chosen}/test-customer`;
  const log = el("ol", { id: "test-log", class: "test-log", "aria-live": "polite" });
  const open = el("p", { id: "test-open" });
  let shown = "";
  const refresh = async () => {
    const v = await api(path());
    const key = JSON.stringify([v.conversation_id, v.messages]);
    if (key === shown) return;
    shown = key;
    log.replaceChildren(...v.messages.map(bubble));
    if (!v.messages.length) log.append(el("li", { class: "muted" }, t("No messages yet: write as a customer would.")));
    open.replaceChildren(v.conversation_id ? el("a", { href: `#/c/${v.conversation_id}` }, t("Open the conversation in the inbox (to answer as an agent)")) : "");
  };
  const pick = el("select", { id: "test-inbox", "aria-label": t("Inbox"), onchange: (e) => { chosen = e.target.value; shown = ""; refresh().catch((err) => toast(err.message, "warning")); } },
    ...inboxes.map((i) => el("option", { value: i.id, selected: i.id === chosen }, `${i.name} (${ICONS[i.kind] || i.kind})`)));
  const text = el("input", { id: "test-text", type: "text", required: true, autocomplete: "off", "aria-label": t("Message as the customer"), placeholder: t("Write as the customer…") });
  const write = el("form", { id: "test-form", class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api(`${path()}/messages`, { method: "POST", body: JSON.stringify({ text: text.value }) });
      text.value = "";
      await refresh();
    } catch (err) { toast(err.message, "warning"); }
  } }, text, el("button", { type: "submit" }, t("Send as customer")));
  const reset = el("button", { type: "button", class: "secondary", id: "test-reset", onclick: async () => {
    try { await api(path(), { method: "DELETE" }); shown = ""; await refresh(); toast(t("The test customer starts over.")); } catch (err) { toast(err.message, "warning"); }
  } }, t("Start over"));
  body.append(
    el("p", { class: "muted" }, t("Try this inbox's auto-replies and automations as a customer would. Parley's answers appear below; nothing is sent to the provider. The test customer is a contact named \"Test customer\" that agents see in the inbox.")),
    el("label", {}, t("Inbox"), pick), log, write, open, reset);
  await refresh();
  // Answers arrive as the dispatcher sends them: looked at again while the panel is shown.
  const timer = setInterval(() => {
    if (!log.isConnected) { clearInterval(timer); return; }
    refresh().catch(() => {});
  }, 2000);
} };
