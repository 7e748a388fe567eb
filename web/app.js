// The agent app: views of the inbox with live counts, the conversation list, the thread with its
// composer, the customer panel, notifications. It talks only to the public API and the realtime
// socket; settings screens are in settings.js and use the helpers exported on `window.Parley`.
const $ = (s) => document.querySelector(s);

// Every word the app shows goes through t(): the English text is the key and `{name}` marks a value
// to put in. A translation is the same keys in another language, defined before this script as
// window.PARLEY_STRINGS (English first: none ships yet). `parley-locale=pseudo` in localStorage
// brackets every translated string, to find any that escape.
const STRINGS = window.PARLEY_STRINGS || {};
const PSEUDO = localStorage.getItem("parley-locale") === "pseudo";
function t(text, vars) {
  let out = STRINGS[text] || text;
  if (vars) out = out.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return PSEUDO ? `⟦${out}⟧` : out;
}
// Kept for every tab of this browser: a tab opened later shares the session cookie.
let csrf = localStorage.getItem("csrf") || "";
let current = null;
let socket = null;

// What the app says, in one place so it can be translated.
const T = {
  mine: t("Mine"), unassigned: t("Unassigned"), open: t("All open"), pending: t("Pending"), snoozed: t("Snoozed"),
  resolved: t("Resolved"), customer: t("Customer"), waiting: t("waiting"), nobody: t("unassigned"),
  viewing: (names) => t(names.includes(",") ? "{names} are also viewing this conversation" : "{names} is also viewing this conversation", { names }),
  typing: (name) => t("{name} is typing…", { name }),
  agentTyping: (name) => t("{name} is typing a reply here — check before you answer", { name }),
  assigned: t("assigned to you"), mentioned: t("mentioned you"), wrote: t("wrote"),
  noConsent: t("No consent recorded."), selected: (n) => t("{n} selected", { n }),
};
// The views: the query each lists, and where its count is in `/conversations/counts`.
const BASE_VIEWS = [
  { key: "mine", query: "status=open&assignee=me", count: (c) => c.mine },
  { key: "unassigned", query: "status=open&assignee=none", count: (c) => c.unassigned },
  { key: "open", query: "status=open", count: (c) => c.statuses.open },
  { key: "pending", query: "status=pending", count: (c) => c.statuses.pending },
  { key: "snoozed", query: "status=snoozed", count: (c) => c.statuses.snoozed },
  { key: "resolved", query: "status=resolved", count: (c) => c.statuses.resolved },
];
let view = BASE_VIEWS[2];
let inboxes = [], teams = [], users = [], me = null, replies = [];
const ENCODINGS = { gsm7: "GSM-7", ucs2: "UCS-2 (Unicode)" };
// Channel names as agents know them (text, not pictures: readable everywhere, and by screen readers).
const ICONS = { twilio: "SMS", whatsapp: "WhatsApp", messenger: "Messenger", instagram: "Instagram", telegram: "Telegram", line: "LINE", email: "Email", widget: "Chat", api: "API" };
const EMOJI = ["🙂", "😀", "😉", "🙏", "👍", "👋", "🎉", "❤️", "✅", "❗", "🚚", "📦", "⏰", "📞", "💳", "🔧"];
const SNOOZES = [
  ["1h", t("For an hour"), () => new Date(Date.now() + 3600e3)],
  ["tomorrow", t("Until tomorrow 9:00"), () => { const d = new Date(); d.setDate(d.getDate() + 1); d.setHours(9, 0, 0, 0); return d; }],
  ["week", t("For a week"), () => new Date(Date.now() + 7 * 86400e3)],
  ["pick", t("Pick a date…"), null],
];

async function api(path, opts = {}) {
  const headers = { "content-type": "application/json" };
  if (opts.method && opts.method !== "GET") headers["x-csrf-token"] = csrf;
  const r = await fetch(path, { ...opts, headers: { ...headers, ...(opts.headers || {}) }, credentials: "same-origin" });
  if (r.status === 401) { showSignIn(); throw new Error("signed out"); }
  const body = r.status === 204 ? null : await r.json();
  if (r.status === 403 && body && body.error && body.error.code === "csrf_failed") { showSignIn(); throw new Error("signed out"); }
  if (!r.ok) throw new Error(body && body.error ? body.error.message : r.statusText);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

const when = (iso) => iso ? new Date(iso).toLocaleString() : "";

// A row's SLA clock: the time left to answer the waiting customer, or how long the answer is
// overdue; amber in the last quarter hour, red once breached. The rows tick every 30 s.
function slaClock(span) {
  const left = Date.parse(span.dataset.due) - Date.now();
  const time = ago(new Date(Date.now() - Math.abs(left)).toISOString());
  span.textContent = left > 0 ? t("reply in {time}", { time }) : t("overdue {time}", { time });
  span.className = `sla ${left <= 0 ? "breached" : left < 15 * 60000 ? "soon" : ""}`;
}
function slaChip(sla) {
  if (!sla) return "";
  const span = el("span", { "data-due": sla.due_at, title: t(sla.target === "first_response" ? "{policy}: first response due {when}" : "{policy}: next response due {when}", { policy: sla.policy, when: when(sla.due_at) }) });
  slaClock(span);
  return span;
}
setInterval(() => document.querySelectorAll("#list .sla").forEach(slaClock), 30000);

// A short message that goes away by itself; also read out by screen readers (#toasts is a live region).
function toast(text, kind = "info") {
  const t = el("p", { class: `toast ${kind}` }, text);
  $("#toasts").append(t);
  setTimeout(() => t.remove(), 6000);
}

function showSignIn() {
  disconnect();
  lastSeq = null;
  current = null;
  $("#sign-in").hidden = false;
  for (const s of ["#inbox", "#settings", "#sign-out", "#top", "#notify"]) $(s).hidden = true;
}

// ---- Theme: the system's unless the agent picked one; kept in this browser.
function applyTheme() {
  const t = localStorage.getItem("theme");
  if (t) document.documentElement.dataset.theme = t; else delete document.documentElement.dataset.theme;
}
$("#theme").addEventListener("click", () => {
  const dark = document.documentElement.dataset.theme ? document.documentElement.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  localStorage.setItem("theme", dark ? "light" : "dark");
  applyTheme();
});
applyTheme();

// ---- Unread: the server keeps, per agent, when they last looked at each conversation; a
// conversation whose customer waits with news since is unread. The tab title counts those in Mine.
async function showUnread() {
  const mine = await api("/api/v1/conversations?status=open&assignee=me&limit=100");
  const n = mine.items.filter((c) => c.unread && c.id !== current).length;
  document.title = n ? `(${n}) Parley` : "Parley";
}
let seenDue = null;
function markSeen(id) {
  clearTimeout(seenDue);
  seenDue = setTimeout(() => api(`/api/v1/conversations/${id}/seen`, { method: "POST" }).then(refreshList).catch(() => {}), 300);
}
document.addEventListener("visibilitychange", () => { if (!document.hidden && current) markSeen(current); });

// In-app always; from the browser too when the tab is hidden and the agent allowed it.
function notify(title, body, conv) {
  toast(`${title} — ${body}`);
  if (document.hidden && "Notification" in window && Notification.permission === "granted") {
    const n = new Notification(title, { body, tag: conv || undefined });
    n.onclick = () => { window.focus(); if (conv) openThread(conv); };
  }
}
$("#notify").addEventListener("click", async () => {
  if ("Notification" in window) await Notification.requestPermission();
  $("#notify").hidden = !("Notification" in window) || Notification.permission !== "default";
});

// ---- Views and the list.
async function loadViews() {
  const c = await api("/api/v1/conversations/counts");
  const views = [
    ...BASE_VIEWS.map((v) => ({ ...v, label: T[v.key], n: v.count(c) || 0 })),
    ...inboxes.map((i) => ({ key: `inbox:${i.id}`, label: i.name, query: `status=open&inbox=${i.id}`, n: c.inboxes[i.id] || 0 })),
    ...teams.map((t) => ({ key: `team:${t.id}`, label: t.name, query: `status=open&team=${t.id}`, n: c.teams[t.id] || 0 })),
    ...Object.keys(c.labels).map((l) => ({ key: `label:${l}`, label: `#${l}`, query: `status=open&label=${encodeURIComponent(l)}`, n: c.labels[l] })),
  ];
  $("#views").replaceChildren(...views.map((v) => el("li", {},
    el("button", { type: "button", class: "view", "data-view": v.key, "aria-pressed": v.key === view.key ? "true" : "false",
      onclick: () => { view = v; loadViews(); loadList(); } },
    v.label, " ", el("span", { class: "count" }, String(v.n))))));
}

// Several events often arrive together: the counts and the list are read once for them.
let countsDue = null, listDue = null;
function refreshViews() { clearTimeout(countsDue); countsDue = setTimeout(() => { loadViews(); showUnread().catch(() => {}); }, 150); }
function refreshList() { clearTimeout(listDue); listDue = setTimeout(loadList, 100); }

function inboxOf(id) { return inboxes.find((x) => x.id === id); }
function channelOf(inboxId) {
  const i = inboxOf(inboxId);
  return i ? `${ICONS[i.kind] || i.kind} · ${i.name}` : "";
}
function assigneeOf(id) {
  if (!id) return T.nobody;
  const u = users.find((x) => x.id === id);
  return u ? u.name : "";
}

const selected = new Set();
function showBulk() {
  $("#bulk").hidden = selected.size === 0;
  $("#bulk-count").textContent = T.selected(selected.size);
}

async function loadList() {
  const page = await api(`/api/v1/conversations?${view.query}&sort=${$("#sort").value}&limit=100`);
  for (const id of [...selected]) if (!page.items.some((c) => c.id === id)) selected.delete(id);
  // The rows are rebuilt: whatever row had the keyboard focus gets it back.
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#list li");
  const focusId = focused && focused.querySelector("a[data-id]").dataset.id;
  const onBox = focused && document.activeElement.type === "checkbox";
  $("#list").replaceChildren(...page.items.map((c) => el("li", { class: `row p-${c.priority}` },
    el("input", { type: "checkbox", "aria-label": t("Select {name}", { name: c.contact_name || T.customer }), checked: selected.has(c.id),
      onchange: (e) => { if (e.target.checked) selected.add(c.id); else selected.delete(c.id); showBulk(); } }),
    el("a", { href: `#/c/${c.id}`, "data-id": c.id, "aria-current": c.id === current ? "true" : "false", class: c.unread && c.id !== current ? "unread" : "" },
      el("span", { class: "line" }, el("strong", {}, c.contact_name || T.customer),
        el("span", { class: "wait muted" }, c.waiting_since ? `${T.waiting} ${ago(c.waiting_since)}` : t(c.status)), slaChip(c.sla)),
      el("span", { class: "line small muted" }, el("span", { class: "channel" }, channelOf(c.inbox_id)),
        el("span", { class: "assignee" }, assigneeOf(c.assignee_id))),
      el("span", { class: "preview" }, c.last_message || "")))));
  if (focusId) {
    const a = document.querySelector(`#list a[data-id="${focusId}"]`);
    if (a) (onBox ? a.parentElement.querySelector("input") : a).focus();
  }
  showBulk();
}

async function bulk(action) {
  const ids = [...selected];
  const results = await Promise.allSettled(ids.map(action));
  const failed = results.filter((r) => r.status === "rejected").length;
  toast(failed ? t("{done} done, {failed} refused: {reason}", { done: ids.length - failed, failed, reason: results.find((r) => r.status === "rejected").reason.message }) : t("{done} done", { done: ids.length }), failed ? "warning" : "info");
  selected.clear();
  loadList();
}
$("#bulk-assign").addEventListener("click", () => bulk((id) => act(id, "assign", { assignee_id: me.id })));
$("#bulk-resolve").addEventListener("click", () => bulk((id) => act(id, "resolve")));
$("#bulk").addEventListener("submit", (e) => {
  e.preventDefault();
  const l = $("#bulk-label").value.trim();
  if (l) bulk((id) => act(id, "labels", { add: [l] }));
  $("#bulk-label").value = "";
});

// ---- The thread.
function attachments(m, inboxId) {
  const files = (m.meta && m.meta.attachments) || [];
  return files.map((f) => {
    const url = `/api/v1/inboxes/${inboxId}/attachments/${f.id}`;
    const name = f.filename || f.content_type;
    return (f.content_type || "").startsWith("image/")
      ? el("a", { href: url, target: "_blank", class: "file" }, el("img", { src: url, alt: name, loading: "lazy" }))
      : el("a", { href: url, target: "_blank", class: "file" }, `📎 ${name} (${Math.ceil((f.size || 0) / 1024)} KB)`);
  });
}

function mentionText(body) {
  // @names in a note stand out.
  const parts = body.split(/(@"[^"\n]{1,100}"|@[\p{L}\p{N}_.-]+)/u);
  return parts.map((p) => p.startsWith("@") ? el("mark", {}, p) : p);
}

function entry(item, conv) {
  const d = item.data;
  const at = item.at ? el("time", { datetime: item.at, title: when(item.at) }, ago(item.at)) : null;
  if (item.type === "message.created") {
    const m = d.message;
    // Who wrote it when it was not a person: the bot, an automation, Parley itself (compliance texts).
    const bot = m.sender_kind === "bot" ? el("span", { class: "tag" }, t("bot · {name}", { name: assigneeOf(m.sender_id) }))
      : ["automation", "system"].includes(m.sender_kind) ? el("span", { class: "tag" }, t(m.sender_kind)) : null;
    const choices = m.meta && m.meta.choices ? el("span", { class: "muted small" }, ` [${m.meta.choices.map((c) => c.title).join(" | ")}]`) : null;
    const via = m.meta && m.meta.template ? el("span", { class: "tag" }, `template ${m.meta.template.name}`) : null;
    // The mail server in front of Parley found this mail's sender forged (DMARC failed).
    const forged = m.meta && m.meta.unverified ? el("span", { class: "tag", title: t("The sender's domain says this mail is not theirs (DMARC failed); it changed no consent") }, t("unverified sender")) : null;
    return el("div", { class: `msg ${m.direction}`, "data-message": m.id }, bot, via, forged, m.body,
      el("small", { class: "status" }, m.direction === "outbound" ? ` · ${m.status}` : ""), choices,
      ...attachments(m, (conv && conv.inbox_id) || m.inbox_id), el("small", { class: "meta" }, at));
  }
  if (item.type === "note.created") return el("div", { class: "note" }, el("strong", {}, t("Note ")), ...mentionText(d.note.body), el("small", { class: "meta" }, at));
  if (item.type === "conversation.updated") {
    const c = d.change;
    const team = (id) => (teams.find((t) => t.id === id) || {}).name;
    const text = c.kind === "status" ? t("Status: {status}", { status: t(c.to) })
      : c.kind === "assignment" ? (c.team_id ? t("Assigned to {agent} (team {team})", { agent: assigneeOf(c.assignee_id), team: team(c.team_id) }) : t("Assigned to {agent}", { agent: assigneeOf(c.assignee_id) }))
      : c.kind === "priority" ? t("Priority: {priority}", { priority: t(c.priority) })
      : c.kind === "labels" ? t("Labels: {labels}", { labels: [...c.added.map((l) => "+#" + l), ...c.removed.map((l) => "−#" + l)].join(" ") })
      : null;
    if (!text) return el("div", { hidden: true });
    return el("div", { class: "event muted" }, text, " ", at);
  }
  if (item.type === "consent.changed") {
    const k = d.consent;
    const verb = { grant: t("granted"), revoke: t("revoked"), request: t("requested (awaiting CONFIRM)") }[k.action] || k.action;
    return el("div", { class: "event muted" }, t("Consent: {purpose} {verb} ({source})", { purpose: t(k.purpose), verb, source: k.source + (k.channel ? ", " + k.channel : "") }), " ", at);
  }
  if (item.type === "survey.answered") {
    const stars = "★".repeat(d.rating) + "☆".repeat(5 - d.rating);
    return el("div", { class: "event survey" }, el("span", { "aria-hidden": "true" }, `${stars} `),
      t("The customer rated this conversation {rating} out of 5", { rating: d.rating }),
      d.comment ? el("q", {}, d.comment) : null, " ", at);
  }
  return el("div", { hidden: true });
}

// What the compliance gate and the channel's window say about a reply now, before it is written.
async function showVerdict(id) {
  const ch = await api(`/api/v1/conversations/${id}/channel`);
  if (id !== current) return;
  const v = ch.compliance.conversational || { verdict: "allow" };
  const reply = $("#reply");
  const say = $("#verdict");
  if (!reply || !say) return;
  const windowShut = ch.window && ch.window.state !== "open";
  // Outside WhatsApp's window the server refuses free text but takes a template: leave Send on.
  denied = v.verdict === "deny" && !(ch.window && ch.window.state === "template_only");
  showMode();
  say.className = v.verdict === "allow" && !windowShut ? "muted" : "warning";
  say.textContent = v.verdict === "allow" ? (ch.window.reason || "") : v.verdict === "hold" ? t("Held until {time}: {reason}", { time: when(v.until), reason: v.reason }) : v.reason;
  $("#thread").dataset.kind = ch.kind;
  // WhatsApp outside its window takes only an approved template.
  const tpl = $("#template");
  if (tpl) tpl.hidden = !(ch.kind === "whatsapp");
  if (tpl && windowShut) tpl.open = true;
}

// The SMS encoding and segments a draft costs, as the agent types.
let costDue = null;
function showCost(box) {
  clearTimeout(costDue);
  const out = $("#cost");
  if (!out || $("#thread").dataset.kind !== "twilio") return;
  costDue = setTimeout(async () => {
    if (!box.value) { out.textContent = ""; return; }
    const c = await api("/api/v1/sms/segments", { method: "POST", body: JSON.stringify({ text: box.value }) });
    out.textContent = `${ENCODINGS[c.encoding] || c.encoding} · ${c.segments} segment${c.segments === 1 ? "" : "s"} · ${c.remaining} left`;
  }, 150);
}

// Who else is here: other agents viewing or typing in this conversation, the customer typing.
const others = { viewers: [], typing: new Map() };
function showPresence() {
  const out = $("#collision");
  if (!out) return;
  const now = Date.now();
  for (const [k, v] of others.typing) if (v.until < now) others.typing.delete(k);
  const typing = [...others.typing.values()];
  const agentTyping = typing.find((t) => t.agent);
  const viewers = others.viewers.filter((v) => v.user_id !== me.id).map((v) => v.name);
  out.replaceChildren(...[
    agentTyping ? el("p", { class: "warning" }, T.agentTyping(agentTyping.name)) : null,
    !agentTyping && viewers.length ? el("p", { class: "warning" }, T.viewing(viewers.join(", "))) : null,
    ...typing.filter((t) => !t.agent).map((t) => el("p", { class: "muted" }, T.typing(t.name))),
  ].filter(Boolean));
}
setInterval(showPresence, 1000);

function send(frame) { if (socket && socket.readyState === 1) socket.send(JSON.stringify(frame)); }
let typingSent = 0;
function typed() {
  // At most every three seconds: enough for the other side's indicator, which lasts five. The
  // customer is told only of a reply being written, never of a note.
  if (current && Date.now() - typingSent > 3000) { typingSent = Date.now(); send({ type: "typing", conversation_id: current, to_customer: mode === "reply" }); }
}

// The composer writes a reply to the customer or a private note; a note may be written even when
// a reply may not be sent.
let mode = "reply", denied = false;
function showMode() {
  const box = $("#compose"), button = $("#reply");
  if (!box || !button) return;
  const note = mode === "note";
  box.classList.toggle("note-mode", note);
  box.placeholder = note ? t("Write a private note… (@name to mention)") : t("Write a reply… (/ for saved replies)");
  button.textContent = note ? t("Add note") : t("Reply");
  button.disabled = !note && denied;
  const radio = $(note ? "#mode-note" : "#mode-reply");
  if (radio) radio.checked = true;
}
function setMode(m) { mode = m; typingSent = 0; showMode(); }

const act = (id, path, body) => api(`/api/v1/conversations/${id}/${path}`, { method: "POST", body: JSON.stringify(body || {}) });

let older = null, lastOpen = null;
async function loadOlder(id, log) {
  if (!older || loadOlder.busy) return;
  loadOlder.busy = true;
  try {
    const conv = await api(`/api/v1/conversations/${id}`);
    const page = await api(`/api/v1/conversations/${id}/timeline?limit=50&before=${older}`);
    if (id !== current) return;
    const height = log.scrollHeight;
    log.prepend(...page.items.map((i) => entry(i, conv)));
    log.scrollTop += log.scrollHeight - height;
    older = page.before;
  } finally { loadOlder.busy = false; }
}

function insertAtCursor(box, text) {
  const [a, b] = [box.selectionStart, box.selectionEnd];
  box.value = box.value.slice(0, a) + text + box.value.slice(b);
  box.selectionStart = box.selectionEnd = a + text.length;
  box.focus();
  box.dispatchEvent(new Event("input"));
}

// What the agent was writing in each conversation they left, so switching never loses a draft.
const drafts = new Map();
function keepDraft() {
  const box = $("#compose");
  if (current && box) { if (box.value) drafts.set(current, box.value); else drafts.delete(current); }
}
const warn = (err) => toast(err.message, "warning");

// A note is kept even when a mention in it names nobody or several people; the agent is told
// which, so nobody is left believing a teammate was notified.
function warnMentions(out) {
  const unresolved = (out && out.unresolved_mentions) || [];
  const ambiguous = (out && out.ambiguous_mentions) || [];
  if (unresolved.length) toast(t("Nobody was notified for {mentions}: no teammate goes by that name.", { mentions: unresolved.join(", ") }), "warning");
  for (const a of ambiguous) {
    toast(t("Nobody was notified for {mention}: it could be {candidates}; mention one by email, like @{example}.", {
      mention: a.mention,
      candidates: a.candidates.map((c) => `${c.name} (${c.email})`).join(", "),
      example: (a.candidates[0] && a.candidates[0].email.split("@")[0]) || "name",
    }), "warning");
  }
}

async function openThread(id, force = false) {
  if (id === current && !force && $("#compose")) return;
  keepDraft();
  current = id;
  lastOpen = id;
  markSeen(id);
  others.viewers = []; others.typing.clear();
  send({ type: "viewing", conversation_id: id });
  if (location.hash !== `#/c/${id}`) history.replaceState(null, "", `#/c/${id}`);
  $("#inbox").classList.add("reading");
  const [conv, tl] = await Promise.all([api(`/api/v1/conversations/${id}`), api(`/api/v1/conversations/${id}/timeline?limit=50`)]);
  if (id !== current) return;
  older = tl.before;
  const log = el("div", { id: "log", tabindex: "0", "aria-label": t("Conversation"), onscroll: (e) => { if (e.target.scrollTop < 40) loadOlder(id, e.target); } },
    ...tl.items.map((i) => entry(i, conv)));
  const box = el("textarea", { id: "compose", "aria-label": t("Message"), rows: "3",
    oninput: () => { showCost(box); typed(); suggest(box); },
    onkeydown: (e) => {
      if (pickMention(box, e)) return;
      if (e.key === "Tab" && !e.shiftKey) { const r = matching(box.value)[0]; if (r) { e.preventDefault(); box.value = r.body; box.dispatchEvent(new Event("input")); } }
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $("#reply").click(); }
    } });
  const files = [];
  const fileList = el("span", { id: "files", class: "small" });
  const picker = el("input", { type: "file", id: "attach", multiple: true, "aria-label": t("Attach files"), onchange: async (e) => {
    for (const f of e.target.files) {
      try {
        const up = await fetch(`/api/v1/inboxes/${conv.inbox_id}/attachments?filename=${encodeURIComponent(f.name)}`, { method: "POST", body: f, credentials: "same-origin", headers: { "content-type": f.type || "application/octet-stream", "x-csrf-token": csrf } });
        const body = await up.json();
        if (!up.ok) throw new Error(body.error.message);
        files.push(body.id);
        fileList.append(el("span", { class: "chip" }, `📎 ${f.name}`));
      } catch (err) { toast(`${f.name}: ${err.message}`, "warning"); }
    }
    e.target.value = "";
  } });
  const choices = el("input", { id: "choices", "aria-label": t("Quick-reply choices, separated by commas"), placeholder: t("Choices: Yes, No"), size: "18" });
  const tplName = el("input", { id: "template-name", "aria-label": t("Template name"), placeholder: "order_update" });
  const tplLang = el("input", { id: "template-language", "aria-label": t("Template language"), placeholder: "en_US", size: "6" });
  const tplParams = el("input", { id: "template-params", "aria-label": t("Template parameters, separated by commas"), placeholder: t("params, comma-separated") });
  // The inbox's approved templates, asked of Meta when the agent first opens this part; picking
  // one fills its name and language and shows its text and the parameters it takes.
  let tplList = null;
  let tplNames = { name: "", names: [] };
  const tplPick = el("select", { id: "template-pick", "aria-label": t("Approved template") }, el("option", { value: "" }, t("Approved templates…")));
  const tplBody = el("p", { id: "template-body", class: "small muted", role: "status" });
  const tplUse = el("button", { type: "button", id: "template-use", class: "secondary", onclick: () => {
    const x = tplList && tplList[Number(tplPick.value)];
    if (!tplPick.value || !x) return;
    tplName.value = x.name; tplLang.value = x.language;
    tplNames = { name: x.name, names: x.named ? x.params : [] };
    tplParams.placeholder = x.params.length ? x.params.join(", ") : t("no parameters");
    tplBody.textContent = x.body;
    tplParams.focus();
  } }, t("Use"));
  const template = el("details", { id: "template", hidden: true, ontoggle: async () => {
    if (!template.open || tplList) return;
    tplList = [];
    try {
      tplList = (await api(`/api/v1/inboxes/${conv.inbox_id}/templates`)).items;
      tplPick.append(...tplList.map((x, i) => el("option", { value: String(i) }, `${x.name} · ${x.language}`)));
    } catch (err) { tplBody.textContent = err.message; }
  } }, el("summary", {}, t("WhatsApp template")), tplPick, tplUse, tplBody, tplName, tplLang, tplParams);
  const via = el("select", { id: "via", "aria-label": t("Reply on"), hidden: true });
  const sendAs = (kind) => async (e) => {
    e.preventDefault();
    const body = { };
    if (box.value.trim()) body.body = box.value;
    if (kind === "messages") {
      const cs = choices.value.split(",").map((s) => s.trim()).filter(Boolean);
      if (cs.length) body.choices = cs.map((t, i) => ({ id: `c${i + 1}`, title: t }));
      if (files.length) body.attachments = files.slice();
      if (!template.hidden && tplName.value.trim()) {
        body.template = { name: tplName.value.trim(), language: tplLang.value.trim() || "en_US", params: tplParams.value.split(",").map((s) => s.trim()).filter(Boolean) };
        // A template with named parameters is sent with each one's name.
        if (tplNames.names.length && tplNames.name === body.template.name) body.template.names = tplNames.names;
      }
    }
    if (!body.body && !body.attachments && !body.template) return;
    try {
      const other = kind === "messages" && via.value && via.value !== conv.inbox_id;
      if (other && (body.attachments || body.choices || body.template)) throw new Error(t("On another channel a reply is text only: remove the files, choices or template, or reply here."));
      if (other) await api(`/api/v1/contacts/${conv.contact_id}/messages`, { method: "POST", body: JSON.stringify({ body: body.body || "", inbox_id: via.value }) });
      else {
        const out = await api(`/api/v1/conversations/${id}/${kind}`, { method: "POST", body: JSON.stringify(body) });
        if (kind === "notes") warnMentions(out);
      }
      box.value = ""; choices.value = ""; files.length = 0; fileList.replaceChildren(); tplName.value = ""; tplParams.value = ""; tplBody.textContent = ""; tplPick.value = "";
      drafts.delete(id);
      showCost(box);
    } catch (err) { $("#verdict").className = "error"; $("#verdict").textContent = err.message; }
  };
  // Menus act on their button, not on `change`: arrowing through a closed select fires `change` in
  // some browsers, and a keyboard user must be able to look before acting.
  const saved = el("select", { id: "saved", "aria-label": t("Saved reply") },
    el("option", { value: "" }, t("Saved replies…")), ...replies.map((r) => el("option", { value: r.shortcut }, `/${r.shortcut}`)));
  const insert = el("button", { type: "button", id: "insert-saved", class: "secondary", onclick: () => {
    const r = replies.find((x) => x.shortcut === saved.value);
    if (r) insertAtCursor(box, r.body);
    saved.value = "";
  } }, t("Insert"));
  const emoji = el("details", { class: "emoji" }, el("summary", { "aria-label": t("Insert an emoji") }, t("Emoji")),
    el("div", { class: "grid" }, ...EMOJI.map((x) => el("button", { type: "button", class: "quiet", "aria-label": t("Insert {emoji}", { emoji: x }), onclick: () => insertAtCursor(box, x) }, x))));
  const status = el("button", { id: "status-action", type: "button", onclick: (e) => act(id, e.target.dataset.action).catch(warn) });
  const priority = el("select", { id: "priority", "aria-label": t("Priority"), onchange: (e) => api(`/api/v1/conversations/${id}`, { method: "PATCH", body: JSON.stringify({ priority: e.target.value }) }).catch(warn) },
    ...["urgent", "high", "normal", "low"].map((p) => el("option", { value: p }, t(p))));
  const snoozeAt = el("input", { type: "datetime-local", "aria-label": t("Snooze until"), hidden: true });
  const snooze = el("select", { "aria-label": t("Snooze"), onchange: (e) => { snoozeAt.hidden = e.target.value !== "pick"; } },
    el("option", { value: "" }, t("Snooze…")), ...SNOOZES.map(([k, label]) => el("option", { value: k }, label)));
  const snoozeGo = el("button", { type: "button", id: "snooze-go", class: "secondary", onclick: () => {
    const s = SNOOZES.find((x) => x[0] === snooze.value);
    const until = s && s[2] ? s[2]() : snoozeAt.value ? new Date(snoozeAt.value) : null;
    if (until) act(id, "snooze", { until: until.toISOString() }).catch(warn);
  } }, t("Snooze"));
  const assign = el("select", { id: "assign", "aria-label": t("Assign to") }, el("option", { value: "" }, t("Assign to…")), el("option", { value: "user:" }, t("Nobody")),
    el("optgroup", { label: t("Agents") }, ...users.map((u) => el("option", { value: `user:${u.id}` }, u.bot ? t("{name} (bot)", { name: u.name }) : u.name))),
    el("optgroup", { label: t("Teams") }, ...teams.map((t) => el("option", { value: `team:${t.id}` }, t.name))));
  const assignGo = el("button", { type: "button", id: "assign-go", class: "secondary", onclick: () => {
    if (!assign.value) return;
    const [kind, value] = assign.value.split(":");
    act(id, "assign", kind === "user" ? { assignee_id: value || null } : { team_id: value || null }).catch(warn);
    assign.value = "";
  } }, t("Assign"));
  const label = el("input", { "aria-label": t("Add a label"), placeholder: t("label"), size: "10" });
  const actions = el("div", { class: "actions" }, status,
    el("button", { id: "assign-me", type: "button", onclick: () => act(id, "assign", { assignee_id: me.id }).catch(warn) }, t("Assign to me")),
    assign, assignGo, priority, snooze, snoozeAt, snoozeGo, el("span", { class: "labels", id: "labels" }),
    el("form", { class: "add-label", onsubmit: (e) => { e.preventDefault(); if (label.value.trim()) act(id, "labels", { add: [label.value.trim()] }).catch(warn); label.value = ""; } }, label));
  $("#thread").replaceChildren(
    el("button", { type: "button", class: "back quiet", onclick: () => { keepDraft(); $("#inbox").classList.remove("reading"); current = null; send({ type: "viewing", conversation_id: null }); history.replaceState(null, "", "#/"); } }, t("← Conversations")),
    el("h2", { id: "thread-title" }), actions, el("div", { id: "collision", role: "status", "aria-live": "polite" }), log,
    el("p", { id: "verdict", class: "muted", "aria-live": "polite" }),
    el("form", { id: "composer", onsubmit: (e) => sendAs(mode === "note" ? "notes" : "messages")(e) },
      el("fieldset", { class: "mode" }, el("legend", {}, t("Write")),
        el("label", { class: "inline" }, el("input", { type: "radio", name: "mode", id: "mode-reply", onchange: () => setMode("reply") }), t("Reply to the customer")),
        el("label", { class: "inline" }, el("input", { type: "radio", name: "mode", id: "mode-note", onchange: () => setMode("note") }), t("Private note"))),
      el("ul", { id: "suggest", class: "suggest", role: "listbox", "aria-label": t("Saved replies"), hidden: true }),
      box,
      el("div", { class: "actions" }, el("button", { id: "reply" }, t("Reply")),
        saved, insert, emoji, picker, fileList, choices, via, template)),
    el("p", { id: "cost", class: "muted", "aria-live": "polite" }));
  box.value = drafts.get(id) || "";
  denied = false;
  showMode();
  showHead(conv);
  log.scrollTop = log.scrollHeight;
  loadList();
  showVerdict(id);
  showChannels(conv, via);
  showPanel(conv);
}

// Other channels the contact can be answered on, when there is more than this one.
async function showChannels(conv, via) {
  try {
    const chs = await api(`/api/v1/contacts/${conv.contact_id}/channels`);
    const items = chs.items || chs;
    if (conv.id !== current || items.length < 2) return;
    via.replaceChildren(...items.map((c) => el("option", { value: c.inbox_id, selected: c.inbox_id === conv.inbox_id }, t("Reply on {channel}", { channel: channelOf(c.inbox_id) || c.kind }))));
    via.hidden = false;
  } catch (_) { /* the picker stays hidden */ }
}

// Saved replies matching a draft that is `/word`.
function matching(text) {
  const m = /^\/([\p{L}\p{N}_-]*)$/u.exec(text);
  return m ? replies.filter((r) => r.shortcut.startsWith(m[1].toLowerCase())) : [];
}
function suggest(box) {
  const list = $("#suggest");
  mention = mentionAt(box);
  if (mention) { showMentions(box); return; }
  list.setAttribute("aria-label", t("Saved replies"));
  const found = matching(box.value).slice(0, 8);
  list.hidden = found.length === 0;
  list.replaceChildren(...found.map((r, i) => el("li", { role: "option", "aria-selected": i === 0 ? "true" : "false" },
    el("button", { type: "button", class: "quiet", onclick: () => { box.value = r.body; list.hidden = true; box.focus(); box.dispatchEvent(new Event("input")); } },
      el("strong", {}, `/${r.shortcut}`), " ", el("span", { class: "muted" }, r.body.slice(0, 60))))));
}

// ---- @mentions in a note: teammates matching the `@word` at the caret, picked by arrow keys and
// Enter or Tab, or by a click; the mention inserted is one the server resolves to them alone.
let mention = null;
function mentionAt(box) {
  if (mode !== "note") return null;
  const before = box.value.slice(0, box.selectionStart);
  const m = /(?:^|[^\p{L}\p{N}@])@([\p{L}\p{N}_.-]*)$/u.exec(before);
  if (!m) return null;
  const q = m[1].toLowerCase();
  const found = users.filter((u) => !u.bot && (u.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q))
    || u.name.toLowerCase().startsWith(q) || u.email.toLowerCase().startsWith(q))).slice(0, 6);
  return found.length ? { start: before.length - m[1].length - 1, end: box.selectionStart, found, index: 0 } : null;
}
// The same rules as the server: the email's local part or the whole name first, then a first name.
function mentionNames(key, u) {
  const squash = (s) => s.toLowerCase().replace(/[\s._-]/g, "");
  const local = (x) => x.email.slice(0, x.email.lastIndexOf("@")).toLowerCase();
  const exact = users.filter((x) => local(x) === key || (squash(key) && squash(x.name) === squash(key)));
  const found = exact.length ? exact : users.filter((x) => (x.name.split(/\s+/)[0] || "").toLowerCase() === key);
  return found.length === 1 && found[0].id === u.id;
}
function mentionOf(u) {
  const first = u.name.split(/\s+/)[0] || "";
  const local = u.email.slice(0, u.email.lastIndexOf("@"));
  const tries = [
    [/^[\p{L}\p{N}_.-]+$/u.test(first) && `@${first}`, first],
    [!u.name.includes('"') && `@"${u.name.trim().replace(/\s+/g, " ")}"`, u.name.trim().replace(/\s+/g, " ")],
    [/^[\p{L}\p{N}_.-]+$/u.test(local) && `@${local}`, local],
  ];
  const hit = tries.find(([written, key]) => written && mentionNames(key.toLowerCase(), u));
  return hit ? hit[0] : `@"${u.name}"`;
}
function insertMention(box, u) {
  const written = `${mentionOf(u)} `;
  box.value = box.value.slice(0, mention.start) + written + box.value.slice(mention.end);
  const caret = mention.start + written.length;
  box.setSelectionRange(caret, caret);
  mention = null;
  $("#suggest").hidden = true;
  box.focus();
  showCost(box);
}
function showMentions(box) {
  const list = $("#suggest");
  list.setAttribute("aria-label", t("Teammates"));
  list.hidden = false;
  list.replaceChildren(...mention.found.map((u, i) => el("li", { role: "option", "aria-selected": i === mention.index ? "true" : "false" },
    el("button", { type: "button", class: "quiet", onmousedown: (e) => e.preventDefault(), onclick: () => insertMention(box, u) },
      el("strong", {}, u.name), " ", el("span", { class: "muted" }, u.email)))));
}
// Keys on the draft while teammates are offered; true when the key was theirs.
function pickMention(box, e) {
  if (!mention || $("#suggest").hidden) return false;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    const n = mention.found.length;
    mention.index = (mention.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
    showMentions(box);
  } else if ((e.key === "Enter" && !e.ctrlKey && !e.metaKey) || (e.key === "Tab" && !e.shiftKey)) {
    insertMention(box, mention.found[mention.index]);
  } else if (e.key === "Escape") {
    mention = null;
    $("#suggest").hidden = true;
  } else {
    return false;
  }
  e.preventDefault();
  return true;
}

// The thread's title and its resolve/reopen button, as the conversation is now.
function showHead(conv) {
  const title = $("#thread-title");
  const button = $("#status-action");
  if (!title || !button) return;
  title.replaceChildren(conv.contact_name || T.customer, " ", el("span", { class: "muted" }, t(conv.status)), " ",
    el("span", { class: "muted" }, `· ${assigneeOf(conv.assignee_id)}`), " ", el("span", { class: "muted small" }, channelOf(conv.inbox_id)));
  button.dataset.action = conv.status === "resolved" ? "reopen" : "resolve";
  button.textContent = conv.status === "resolved" ? t("Reopen") : t("Resolve");
  const priority = $("#priority");
  if (priority && document.activeElement !== priority) priority.value = conv.priority;
  const labels = $("#labels");
  if (labels) labels.replaceChildren(...conv.labels.map((l) => el("button", { type: "button", class: "chip", "aria-label": t("Remove label {label}", { label: l }),
    onclick: () => api(`/api/v1/conversations/${conv.id}/labels/${encodeURIComponent(l)}`, { method: "DELETE" }).catch(warn) }, `#${l} ×`)));
}

// ---- The customer panel: who this is across channels, their fields, consent and history.
async function showPanel(conv) {
  const panel = $("#panel");
  const [contact, consent, convs, onLists, allLists] = await Promise.all([
    api(`/api/v1/contacts/${conv.contact_id}`),
    api(`/api/v1/contacts/${conv.contact_id}/consent`),
    api(`/api/v1/contacts/${conv.contact_id}/conversations`),
    api(`/api/v1/contacts/${conv.contact_id}/lists`),
    api("/api/v1/lists"),
  ]);
  if (conv.id !== current) return;
  const fields = el("dl", { class: "fields" });
  const draw = () => fields.replaceChildren(...Object.entries(contact.custom_fields).flatMap(([k, v]) => [
    el("dt", {}, k),
    el("dd", {}, el("input", { "aria-label": k, value: typeof v === "string" ? v : JSON.stringify(v), "data-field": k }),
      el("button", { type: "button", class: "quiet", "aria-label": t("Remove {field}", { field: k }), onclick: () => save({ [k]: null }) }, "×")),
  ]));
  const save = async (patch) => {
    try {
      const c = await api(`/api/v1/contacts/${contact.id}`, { method: "PATCH", body: JSON.stringify({ custom_fields: patch }) });
      contact.custom_fields = c.custom_fields; draw(); toast(t("Saved"));
    } catch (err) { toast(err.message, "warning"); }
  };
  draw();
  const newKey = el("input", { "aria-label": t("New field name"), placeholder: t("field"), size: "8" });
  const newValue = el("input", { "aria-label": t("New field value"), placeholder: t("value"), size: "10" });
  const name = el("input", { id: "contact-name", "aria-label": t("Name"), value: contact.name || "" });
  panel.replaceChildren(
    el("h2", {}, contact.name || T.customer),
    el("form", { class: "stack", onsubmit: async (e) => {
      e.preventDefault();
      try { await api(`/api/v1/contacts/${contact.id}`, { method: "PATCH", body: JSON.stringify({ name: name.value.trim() || null }) }); toast(t("Saved")); } catch (err) { toast(err.message, "warning"); }
    } }, el("label", {}, t("Name"), name), el("button", { class: "secondary" }, t("Save name"))),
    el("h3", {}, t("On each channel")),
    el("ul", { id: "identities", class: "plain" }, ...contact.identities.map((i) => el("li", {}, el("span", { class: "muted" }, `${i.kind}: `), i.external_id))),
    el("h3", {}, t("Fields")),
    el("form", { id: "fields", onsubmit: (e) => {
      e.preventDefault();
      // Only what changed is sent, so a number or a list nobody touched keeps its type.
      const patch = {};
      for (const input of fields.querySelectorAll("input[data-field]")) {
        const was = contact.custom_fields[input.dataset.field];
        const shown = typeof was === "string" ? was : JSON.stringify(was);
        if (input.value === shown) continue;
        let value = input.value;
        if (typeof was !== "string") { try { value = JSON.parse(input.value); } catch (_) { /* kept as text */ } }
        patch[input.dataset.field] = value;
      }
      if (newKey.value.trim()) patch[newKey.value.trim()] = newValue.value;
      newKey.value = ""; newValue.value = "";
      save(patch);
    } }, fields, el("div", { class: "actions" }, newKey, newValue), el("button", { class: "secondary" }, t("Save fields"))),
    el("h3", {}, t("Lists")),
    listsView(contact, onLists.items, allLists.items),
    el("h3", {}, t("Consent")),
    consentView(consent),
    el("h3", {}, t("Conversations")),
    el("ul", { id: "history", class: "plain" }, ...(convs.items || convs).map((c) => el("li", {},
      el("a", { href: `#/c/${c.id}`, "aria-current": c.id === conv.id ? "true" : "false" }, `${channelOf(c.inbox_id)} · ${c.status}`),
      el("span", { class: "muted small" }, ` ${when(c.last_activity_at || c.created_at)}`)))),
    el("h3", {}, t("Merge")),
    mergeForm(contact),
    blockView(contact, conv));
}

// The lists the contact is on; any agent puts them on another or takes them off.
function listsView(contact, on, all) {
  const box = el("div", { id: "lists" });
  const change = async (list, method) => {
    try {
      await api(`/api/v1/lists/${list.id}/contacts/${contact.id}`, { method });
      on = method === "PUT" ? [...on, list].sort((a, b) => (a.name < b.name ? -1 : 1)) : on.filter((l) => l.id !== list.id);
      draw();
      toast(t(method === "PUT" ? "Added to {list}" : "Taken off {list}", { list: list.name }));
    } catch (err) { toast(err.message, "warning"); }
  };
  const draw = () => {
    const others = all.filter((l) => !on.some((o) => o.id === l.id));
    const pick = el("select", { "aria-label": t("List to add to") }, ...others.map((l) => el("option", { value: l.id }, l.name)));
    box.replaceChildren(...[
      on.length ? el("div", { class: "actions" }, ...on.map((l) => el("span", { class: "chip" }, l.name, " ",
        el("button", { type: "button", class: "quiet", "aria-label": t("Take off {list}", { list: l.name }), onclick: () => change(l, "DELETE") }, "×"))))
        : el("p", { class: "muted" }, t("On no list.")),
      others.length ? el("div", { class: "actions" }, pick,
        el("button", { type: "button", class: "secondary", onclick: () => change(others.find((l) => l.id === pick.value), "PUT") }, t("Add to list"))) : null,
    ].filter(Boolean));
  };
  draw();
  return box;
}

// Consent now, per purpose, and the ledger behind it (newest first).
function consentView(consent) {
  const entries = consent.history || [];
  const optOuts = consent.opted_out || [];
  const review = consent.probable_revocation;
  // Where each purpose stands, as the gate sees it, channel by channel: "revoked on every
  // channel", or each state with the channels in it.
  const states = consent.states || {};
  const channels = Object.keys(states);
  const purposes = channels.length ? Object.keys(states[channels[0]]) : [];
  const lines = purposes.flatMap((p) => {
    const by = {};
    for (const c of channels) (by[states[c][p]] = by[states[c][p]] || []).push(c);
    const known = Object.entries(by).filter(([st]) => st !== "unknown");
    if (!known.length) return [];
    const text = known.length === 1 && known[0][1].length === channels.length ? t("{state} on every channel", { state: t(known[0][0]) })
      : known.map(([st, cs]) => t("{state} on {channels}", { state: t(st), channels: cs.join(", ") })).join("; ");
    return [el("li", {}, el("strong", {}, t(p)), `: ${text}`)];
  });
  return el("div", { id: "consent" },
    lines.length ? el("ul", { class: "plain" }, ...lines) : el("p", { class: "muted" }, T.noConsent),
    optOuts.length ? el("p", { class: "warning" }, t("Opted out on: {channels}", { channels: optOuts.join(", ") })) : null,
    review ? el("p", { class: "warning" }, t("Possibly an opt-out, to review: “{text}” ({time})", { text: review.text, time: when(review.at) })) : null,
    entries.length ? el("details", { id: "consent-history" }, el("summary", {}, t("History ({n})", { n: entries.length })),
      el("ol", { class: "plain" }, ...[...entries].sort((a, b) => (a.at < b.at ? 1 : -1)).map((e) => el("li", {},
        el("time", { datetime: e.at }, when(e.at)), ` ${e.purpose} ${e.action} · ${e.source}${e.channel ? " · " + e.channel : ""}`,
        evidence(e.evidence))))) : null);
}

// What a consent entry rests on, briefly: the customer's words, or the fields recorded with it.
function evidence(ev) {
  if (!ev || !Object.keys(ev).length) return null;
  const text = ev.text ? `“${ev.text}”` : Object.entries(ev).filter(([k]) => !k.endsWith("_id")).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ");
  return text ? el("span", { class: "muted small" }, ` ${text}`) : null;
}

// Blocking (supervisors and admins): their messages are kept, and an opt-out in them still counts,
// but they stop reopening conversations or waiting for an answer.
function blockView(contact, conv) {
  if (me.role === "agent") return contact.blocked_at ? el("p", { class: "warning" }, t("Blocked since {time}", { time: when(contact.blocked_at) })) : null;
  const blocked = !!contact.blocked_at;
  return el("div", { class: "stack" },
    blocked ? el("p", { id: "blocked", class: "warning" }, t("Blocked since {time}: their messages no longer reopen conversations.", { time: when(contact.blocked_at) })) : null,
    el("button", { type: "button", id: "block", class: "secondary", onclick: async () => {
      if (!blocked && !confirm(t("Block {name}? Their messages are kept but no longer reopen conversations, and their open conversations are resolved.", { name: contact.name || t("this contact") }))) return;
      try {
        await api(`/api/v1/contacts/${contact.id}/block`, { method: blocked ? "DELETE" : "POST" });
        toast(blocked ? t("Unblocked") : t("Blocked"));
        showPanel(await api(`/api/v1/conversations/${conv.id}`));
      } catch (err) { warn(err); }
    } }, blocked ? t("Unblock") : t("Block")));
}

function mergeForm(contact) {
  const q = el("input", { type: "search", "aria-label": t("Find a contact to merge into this one"), placeholder: t("name, phone or email") });
  const found = el("ul", { class: "plain" });
  return el("form", { onsubmit: async (e) => {
    e.preventDefault();
    const r = await api(`/api/v1/contacts?q=${encodeURIComponent(q.value)}`);
    found.replaceChildren(...(r.items || []).filter((c) => c.id !== contact.id).slice(0, 5).map((c) => el("li", {},
      `${c.name || c.phone || c.email || c.id} `,
      el("button", { type: "button", class: "secondary", onclick: async () => {
        if (!confirm(t("Merge {other} into {name}? Their channels and conversations move here.", { other: c.name || t("this contact"), name: contact.name || t("this contact") }))) return;
        try { keepDraft(); await api(`/api/v1/contacts/${contact.id}/merge`, { method: "POST", body: JSON.stringify({ contact_id: c.id }) }); toast(t("Merged")); if (current) openThread(current, true); } catch (err) { toast(err.message, "warning"); }
      } }, t("Merge here")))));
  } }, q, el("button", { class: "secondary" }, t("Find")), found);
}

// ---- Keyboard shortcuts, when the agent is not typing; `?` lists them.
const SHORTCUTS = [
  ["j", t("Next conversation"), () => step(1)],
  ["k", t("Previous conversation"), () => step(-1)],
  ["r", t("Write a reply"), () => { const b = $("#compose"); if (b) { setMode("reply"); b.focus(); } }],
  ["n", t("Write a private note"), () => { const b = $("#compose"); if (b) { setMode("note"); b.focus(); } }],
  ["a", t("Assign to me"), () => current && act(current, "assign", { assignee_id: me.id })],
  ["e", t("Resolve or reopen"), () => { const b = $("#status-action"); if (b) b.click(); }],
  ["s", t("Snooze"), () => { const s = $("select[aria-label=Snooze]"); if (s) s.focus(); }],
  ["l", t("Add a label"), () => { const l = $(".add-label input"); if (l) l.focus(); }],
  ["x", t("Select the conversation"), () => { const c = current && document.querySelector(`#list a[data-id="${current}"]`); const box = c && c.parentElement.querySelector("input[type=checkbox]"); if (box) box.click(); }],
  ["/", t("Find in the list"), () => $("#views button").focus()],
  ["?", t("Show these shortcuts"), () => { const d = $("#help"); if (d.open) d.close(); else d.showModal(); }],
  ["Ctrl+Enter", t("Send the reply (in the composer)"), null],
];
function step(by) {
  const rows = [...document.querySelectorAll("#list a[data-id]")];
  const at = rows.findIndex((r) => r.dataset.id === current);
  const next = rows[Math.min(rows.length - 1, Math.max(0, at + by))];
  if (next) openThread(next.dataset.id);
}
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || ["INPUT", "TEXTAREA", "SELECT"].includes(e.target.tagName)) return;
  const s = SHORTCUTS.find(([k, , f]) => k === e.key && f);
  if (s && !$("#inbox").hidden) { e.preventDefault(); s[2](); }
});

// ---- Realtime.
function onEvent(ev) {
  if (ev.type === "viewers") {
    if (ev.data.conversation_id === current) { others.viewers = ev.data.viewers; showPresence(); }
    return;
  }
  if (ev.type === "typing") {
    if (ev.data.conversation_id === current) {
      const agent = !!ev.data.user_id;
      others.typing.set(ev.data.user_id || ev.data.contact_id, { name: ev.data.name, agent, until: Date.now() + 5000 });
      showPresence();
    }
    return;
  }
  if (!["message.created", "note.created", "conversation.updated", "consent.changed", "message.updated", "survey.answered"].includes(ev.type)) return;
  refreshList();
  refreshViews();
  const about = ev.data.conversation ? ev.data.conversation.id : ev.data.conversation_id;
  const conv = ev.data.conversation;
  // Notifications: assigned to me, mentioned, the customer writing in one of mine.
  if (ev.type === "conversation.updated" && ev.data.change.kind === "assignment" && conv && conv.assignee_id === me.id && ev.data.actor_id !== me.id) {
    notify(conv.contact_name || T.customer, T.assigned, about);
  }
  if (ev.type === "note.created" && (ev.data.note.mentions || []).includes(me.id)) {
    notify(conv ? conv.contact_name || T.customer : T.customer, `${T.mentioned}: ${ev.data.note.body}`, about);
  }
  if (ev.type === "message.created" && ev.data.message.direction === "inbound" && conv && conv.assignee_id === me.id) {
    notify(conv.contact_name || T.customer, `${T.wrote}: ${ev.data.message.body}`, about);
  }
  if (about !== current) return;
  // Seen as it happens when the agent is looking at it.
  if (!document.hidden && ev.type !== "message.updated") markSeen(current);
  // A customer writing, opting out or a status change can change what a reply may do.
  if (ev.type !== "message.updated") showVerdict(current);
  if (conv) showHead(conv);
  if (ev.type === "consent.changed" && conv) showPanel(conv);
  if (ev.type === "message.updated") {
    // Updated in place: re-rendering the thread would lose what the agent is typing.
    const shown = document.querySelector(`[data-message="${ev.data.message_id}"] .status`);
    if (shown) shown.textContent = ` · ${ev.data.status}`;
  } else {
    const log = $("#log");
    if (log) { log.append(entry(ev, conv)); log.scrollTop = log.scrollHeight; }
  }
}

// One socket per signed-in page; after a drop it reconnects from the last event it saw, so nothing
// that happened meanwhile is missed.
let lastSeq = null;
function connect() {
  disconnect();
  const since = lastSeq === null ? "" : `?since=${lastSeq}`;
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/realtime${since}`);
  socket = ws;
  ws.onopen = () => { if (current) send({ type: "viewing", conversation_id: current }); };
  ws.onmessage = (e) => {
    const ev = JSON.parse(e.data);
    if (typeof ev.seq === "number") lastSeq = ev.seq;
    // A first connection's `ready` says 0: the next event sets where to resume from.
    if (ev.type === "ready" && lastSeq === null && ev.data.last_seq > 0) lastSeq = ev.data.last_seq;
    // What happened between the first page's load and this socket's start came by no event.
    if (ev.type === "ready" && !since) { refreshList(); refreshViews(); }
    onEvent(ev);
  };
  ws.onclose = () => { if (socket === ws) setTimeout(connect, 2000); };
}
function disconnect() {
  if (!socket) return;
  const ws = socket;
  socket = null;
  ws.onclose = null;
  ws.close();
}

// ---- Sections: the inbox (`#/`, `#/c/<id>`) and settings (`#/settings/<screen>`).
function route() {
  const h = location.hash.replace(/^#/, "") || "/";
  const inSettings = h.startsWith("/settings");
  $("#inbox").hidden = inSettings;
  $("#settings").hidden = !inSettings;
  $("#to-inbox").setAttribute("aria-current", inSettings ? "false" : "page");
  $("#to-settings").setAttribute("aria-current", inSettings ? "page" : "false");
  if (inSettings) {
    if (current) { send({ type: "viewing", conversation_id: null }); current = null; }
    if (window.ParleySettings) window.ParleySettings.show(h.split("/")[2] || "");
    return;
  }
  const m = /^\/c\/([0-9a-f-]{36})$/.exec(h);
  if (m && m[1] !== current) openThread(m[1]).catch(warn);
  if (!m && !current) {
    // Back from settings: no thread is open any more, so none is shown.
    $("#thread").replaceChildren(el("p", { class: "muted" }, t("Pick a conversation.")));
    $("#panel").replaceChildren();
    $("#inbox").classList.remove("reading");
  }
}
window.addEventListener("hashchange", route);

async function loadDirectory() {
  const [ib, tm, us, rp] = await Promise.all([api("/api/v1/inboxes"), api("/api/v1/teams"), api("/api/v1/users"), api("/api/v1/replies")]);
  [inboxes, teams, users, replies] = [ib.items || ib, tm.items || tm, us.items || us, rp.items];
}

// The page's own words (index.html marks them with data-t, naming any attributes to translate too).
function translatePage() {
  for (const e of document.querySelectorAll("[data-t]")) {
    for (const n of e.childNodes) if (n.nodeType === 3 && n.textContent.trim()) n.textContent = n.textContent.replace(n.textContent.trim(), t(n.textContent.trim()));
    for (const a of e.dataset.t.split(" ").filter(Boolean)) e.setAttribute(a, t(e.getAttribute(a)));
  }
}
translatePage();

async function start() {
  try {
    me = await api("/api/v1/me");
    $("#who").textContent = `${me.name} (${me.role})`;
    $("#sign-in").hidden = true;
    $("#sign-out").hidden = false;
    $("#top").hidden = false;
    $("#to-settings").hidden = false;
    $("#notify").hidden = !("Notification" in window) || Notification.permission !== "default";
    await loadDirectory();
    route();
    await Promise.all([loadViews(), loadList(), showUnread()]);
    connect();
  } catch (_) { showSignIn(); }
}

$("#sign-in").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const r = await fetch("/api/v1/auth/sign-in", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(Object.fromEntries(new FormData(form))) });
  const body = await r.json();
  if (!r.ok) { form.querySelector(".error").textContent = body.error.message; return; }
  csrf = body.csrf_token;
  localStorage.setItem("csrf", csrf);
  start();
});
$("#sign-out").addEventListener("click", async () => { await api("/api/v1/auth/sign-out", { method: "POST" }); showSignIn(); });
$("#sort").addEventListener("change", loadList);
$("#shortcuts").replaceChildren(...SHORTCUTS.flatMap(([k, what]) => [el("dt", {}, k), el("dd", {}, what)]));
window.Parley = { api, el, toast, when, T, t, ICONS, consentView, get me() { return me; }, get users() { return users; }, get inboxes() { return inboxes; }, reload: async () => { await loadDirectory(); await loadViews(); } };
start();
