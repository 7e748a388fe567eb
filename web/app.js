// The small agent app: sign in, views of the inbox with live counts, a live conversation list,
// a thread with reply and note. It talks only to the public API and the realtime socket.
const $ = (s) => document.querySelector(s);
let csrf = sessionStorage.getItem("csrf") || "";
let current = null;

// What the app says, in one place so it can be translated.
const T = {
  mine: "Mine", unassigned: "Unassigned", open: "All open", pending: "Pending", snoozed: "Snoozed",
  resolved: "Resolved", customer: "Customer", waiting: "waiting", nobody: "unassigned",
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
let inboxes = [], teams = [], users = [], me = null;
const ENCODINGS = { gsm7: "GSM-7", ucs2: "UCS-2 (Unicode)" };
const SNOOZES = [
  ["1h", "For an hour", () => new Date(Date.now() + 3600e3)],
  ["tomorrow", "Until tomorrow 9:00", () => { const d = new Date(); d.setDate(d.getDate() + 1); d.setHours(9, 0, 0, 0); return d; }],
  ["week", "For a week", () => new Date(Date.now() + 7 * 86400e3)],
];

async function api(path, opts = {}) {
  const headers = { "content-type": "application/json" };
  if (opts.method && opts.method !== "GET") headers["x-csrf-token"] = csrf;
  const r = await fetch(path, { ...opts, headers, credentials: "same-origin" });
  if (r.status === 401) { showSignIn(); throw new Error("signed out"); }
  const body = r.status === 204 ? null : await r.json();
  if (!r.ok) throw new Error(body && body.error ? body.error.message : r.statusText);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
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

function showSignIn() {
  $("#sign-in").hidden = false;
  $("#inbox").hidden = true;
  $("#sign-out").hidden = true;
}

// The views with their counts: the fixed ones, then each inbox, team and label.
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

// Several events often arrive together: the counts are read once for them.
let countsDue = null;
function refreshViews() {
  clearTimeout(countsDue);
  countsDue = setTimeout(loadViews, 150);
}

function channelOf(inboxId) {
  const i = inboxes.find((x) => x.id === inboxId);
  return i ? `${i.name} · ${i.kind}` : "";
}

function assigneeOf(id) {
  if (!id) return T.nobody;
  const u = users.find((x) => x.id === id);
  return u ? u.name : "";
}

async function loadList() {
  const page = await api(`/api/v1/conversations?${view.query}&sort=${$("#sort").value}&limit=100`);
  const list = $("#list");
  list.replaceChildren(...page.items.map((c) => el("li", {},
    el("a", { href: "#", "data-id": c.id, "aria-current": c.id === current ? "true" : "false", onclick: (e) => { e.preventDefault(); openThread(c.id); } },
      el("strong", {}, c.contact_name || T.customer), " ",
      el("span", { class: "muted" }, c.waiting_since ? `${T.waiting} ${ago(c.waiting_since)}` : c.status),
      el("br"), el("span", { class: "channel muted" }, channelOf(c.inbox_id)), " · ",
      el("span", { class: "assignee muted" }, assigneeOf(c.assignee_id)),
      el("br"), el("span", { class: "preview" }, c.last_message || "")))));
}

function entry(item) {
  const d = item.data;
  if (item.type === "message.created") {
    const m = d.message;
    const status = item.delivery ? item.delivery.status : m.status;
    return el("div", { class: `msg ${m.direction}`, "data-message": m.id }, m.body,
      el("small", { class: "status" }, m.direction === "outbound" ? ` · ${status}` : ""));
  }
  if (item.type === "note.created") return el("div", { class: "note" }, "Note: ", d.note.body);
  if (item.type === "conversation.updated") {
    const c = d.change;
    const text = c.kind === "status" ? `Status: ${c.to}` : c.kind === "assignment" ? "Assignment changed" : `${c.kind} changed`;
    return el("div", { class: "event muted" }, text);
  }
  if (item.type === "consent.changed") {
    const k = d.consent;
    const verb = { grant: "granted", revoke: "revoked", request: "requested (awaiting CONFIRM)" }[k.action] || k.action;
    return el("div", { class: "event muted" }, `Consent: ${k.purpose} ${verb} (${k.source}${k.channel ? ", " + k.channel : ""})`);
  }
  return el("div");
}

// What the compliance gate and the channel's window say about a reply now, before it is written.
async function showVerdict(id) {
  const ch = await api(`/api/v1/conversations/${id}/channel`);
  if (id !== current) return;
  const v = ch.compliance.conversational || { verdict: "allow" };
  const reply = document.querySelector("#reply");
  const say = document.querySelector("#verdict");
  if (!reply || !say) return;
  reply.disabled = v.verdict === "deny";
  say.className = v.verdict === "allow" ? "muted" : "warning";
  say.textContent = v.verdict === "allow" ? (ch.window.reason || "") : v.verdict === "hold" ? `Held until ${new Date(v.until).toLocaleString()}: ${v.reason}` : v.reason;
  document.querySelector("#thread").dataset.kind = ch.kind;
}

// The SMS encoding and segments a draft costs, as the agent types.
let costDue = null;
function showCost(box) {
  clearTimeout(costDue);
  const out = document.querySelector("#cost");
  if (!out || document.querySelector("#thread").dataset.kind !== "twilio") return;
  costDue = setTimeout(async () => {
    if (!box.value) { out.textContent = ""; return; }
    const c = await api("/api/v1/sms/segments", { method: "POST", body: JSON.stringify({ text: box.value }) });
    out.textContent = `${ENCODINGS[c.encoding] || c.encoding} · ${c.segments} segment${c.segments === 1 ? "" : "s"} · ${c.remaining} left`;
  }, 150);
}

const act = (id, path, body) => api(`/api/v1/conversations/${id}/${path}`, { method: "POST", body: JSON.stringify(body || {}) });

async function openThread(id) {
  current = id;
  const [conv, tl] = await Promise.all([api(`/api/v1/conversations/${id}`), api(`/api/v1/conversations/${id}/timeline?limit=200`)]);
  const log = el("div", { id: "log" }, ...tl.items.map(entry));
  const box = el("textarea", { id: "compose", "aria-label": "Message", rows: "3", oninput: () => showCost(box) });
  const send = (kind) => async (e) => {
    e.preventDefault();
    if (!box.value.trim()) return;
    try {
      await api(`/api/v1/conversations/${id}/${kind}`, { method: "POST", body: JSON.stringify({ body: box.value }) });
      box.value = "";
      showCost(box);
    } catch (err) { document.querySelector("#verdict").textContent = err.message; }
  };
  const status = el("button", { id: "status-action", type: "button",
    onclick: (e) => act(id, e.target.dataset.action) });
  const priority = el("select", { "aria-label": "Priority", onchange: (e) => api(`/api/v1/conversations/${id}`, { method: "PATCH", body: JSON.stringify({ priority: e.target.value }) }) },
    ...["urgent", "high", "normal", "low"].map((p) => { const o = el("option", { value: p }, p); if (p === conv.priority) o.selected = true; return o; }));
  const snooze = el("select", { "aria-label": "Snooze", onchange: (e) => { const s = SNOOZES.find((x) => x[0] === e.target.value); if (s) act(id, "snooze", { until: s[2]().toISOString() }); } },
    el("option", { value: "" }, "Snooze…"), ...SNOOZES.map(([k, label]) => el("option", { value: k }, label)));
  const label = el("input", { "aria-label": "Add a label", placeholder: "label", size: "10" });
  const labels = el("span", { class: "labels" }, ...conv.labels.map((l) => el("button", { type: "button", class: "chip", title: "Remove", onclick: () => api(`/api/v1/conversations/${id}/labels/${encodeURIComponent(l)}`, { method: "DELETE" }) }, `#${l} ×`)));
  const actions = el("div", { class: "actions" }, status,
    el("button", { id: "assign-me", type: "button", onclick: () => act(id, "assign", { assignee_id: me.id }) }, "Assign to me"),
    priority, snooze, labels,
    el("form", { class: "add-label", onsubmit: (e) => { e.preventDefault(); if (label.value.trim()) act(id, "labels", { add: [label.value.trim()] }); label.value = ""; } }, label));
  $("#thread").replaceChildren(el("h2", { id: "thread-title" }), actions, log,
    el("p", { id: "verdict", class: "muted", "aria-live": "polite" }),
    el("form", { onsubmit: send("messages") }, box, el("button", { id: "reply" }, "Reply"), el("button", { type: "button", onclick: send("notes") }, "Add note")),
    el("p", { id: "cost", class: "muted", "aria-live": "polite" }));
  showHead(conv);
  log.scrollTop = log.scrollHeight;
  loadList();
  showVerdict(id);
}

// The thread's title and its resolve/reopen button, as the conversation is now.
function showHead(conv) {
  const title = document.querySelector("#thread-title");
  const button = document.querySelector("#status-action");
  if (!title || !button) return;
  title.replaceChildren(conv.contact_name || T.customer, " ", el("span", { class: "muted" }, conv.status), " ",
    el("span", { class: "muted" }, `· ${assigneeOf(conv.assignee_id)}`));
  button.dataset.action = conv.status === "resolved" ? "reopen" : "resolve";
  button.textContent = conv.status === "resolved" ? "Reopen" : "Resolve";
}

// Keyboard shortcuts, when the agent is not typing; `?` lists them.
const SHORTCUTS = [
  ["j", "Next conversation", () => step(1)],
  ["k", "Previous conversation", () => step(-1)],
  ["r", "Write a reply", () => { const b = document.querySelector("#compose"); if (b) b.focus(); }],
  ["a", "Assign to me", () => current && act(current, "assign", { assignee_id: me.id })],
  ["e", "Resolve or reopen", () => { const b = document.querySelector("#status-action"); if (b) b.click(); }],
  ["?", "Show these shortcuts", () => { const d = $("#help"); if (d.open) d.close(); else d.showModal(); }],
];
function step(by) {
  const rows = [...document.querySelectorAll("#list a[data-id]")];
  const at = rows.findIndex((r) => r.dataset.id === current);
  const next = rows[Math.min(rows.length - 1, Math.max(0, at + by))];
  if (next) openThread(next.dataset.id);
}
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || ["INPUT", "TEXTAREA", "SELECT"].includes(e.target.tagName)) return;
  const s = SHORTCUTS.find(([k]) => k === e.key);
  if (s && !$("#inbox").hidden) { e.preventDefault(); s[2](); }
});

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/realtime`);
  ws.onmessage = (e) => {
    const ev = JSON.parse(e.data);
    if (["message.created", "note.created", "conversation.updated", "consent.changed", "message.updated"].includes(ev.type)) {
      loadList();
      refreshViews();
      const about = ev.data.conversation ? ev.data.conversation.id : ev.data.conversation_id;
      // A customer writing, opting out or a status change can change what a reply may do.
      if (about === current && ev.type !== "message.updated") showVerdict(current);
      if (about === current && ev.data.conversation) showHead(ev.data.conversation);
      const conv = ev.data.conversation ? ev.data.conversation.id : ev.data.conversation_id;
      if (conv === current) {
        // Updated in place: re-rendering the thread would lose what the agent is typing.
        if (ev.type === "message.updated") {
          const shown = document.querySelector(`[data-message="${ev.data.message_id}"] .status`);
          if (shown) shown.textContent = ` · ${ev.data.status}`;
        } else { const log = $("#log"); log.append(entry(ev)); log.scrollTop = log.scrollHeight; }
      }
    }
  };
  ws.onclose = () => setTimeout(connect, 2000);
}

async function start() {
  try {
    me = await api("/api/v1/me");
    $("#who").textContent = `${me.name} (${me.role})`;
    $("#sign-in").hidden = true;
    $("#inbox").hidden = false;
    $("#sign-out").hidden = false;
    const [ib, tm, us] = await Promise.all([api("/api/v1/inboxes"), api("/api/v1/teams"), api("/api/v1/users")]);
    [inboxes, teams, users] = [ib.items || ib, tm.items || tm, us.items || us];
    await Promise.all([loadViews(), loadList()]);
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
  sessionStorage.setItem("csrf", csrf);
  start();
});
$("#sign-out").addEventListener("click", async () => { await api("/api/v1/auth/sign-out", { method: "POST" }); showSignIn(); });
$("#sort").addEventListener("change", loadList);
$("#shortcuts").replaceChildren(...SHORTCUTS.flatMap(([k, what]) => [el("dt", {}, k), el("dd", {}, what)]));
start();
