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
let inboxes = [], teams = [], users = [];

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

async function openThread(id) {
  current = id;
  const [conv, tl] = await Promise.all([api(`/api/v1/conversations/${id}`), api(`/api/v1/conversations/${id}/timeline?limit=200`)]);
  const log = el("div", { id: "log" }, ...tl.items.map(entry));
  const box = el("textarea", { id: "compose", "aria-label": "Message", rows: "3" });
  const send = (kind) => async (e) => {
    e.preventDefault();
    if (!box.value.trim()) return;
    await api(`/api/v1/conversations/${id}/${kind}`, { method: "POST", body: JSON.stringify({ body: box.value }) });
    box.value = "";
  };
  const status = conv.status === "resolved"
    ? el("button", { onclick: () => api(`/api/v1/conversations/${id}/reopen`, { method: "POST" }) }, "Reopen")
    : el("button", { onclick: () => api(`/api/v1/conversations/${id}/resolve`, { method: "POST" }) }, "Resolve");
  $("#thread").replaceChildren(
    el("h2", {}, conv.contact_name || "Customer", " ", el("span", { class: "muted" }, conv.status)), status, log,
    el("form", { onsubmit: send("messages") }, box, el("button", {}, "Reply"), el("button", { type: "button", onclick: send("notes") }, "Add note")));
  log.scrollTop = log.scrollHeight;
  loadList();
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/realtime`);
  ws.onmessage = (e) => {
    const ev = JSON.parse(e.data);
    if (["message.created", "note.created", "conversation.updated", "consent.changed", "message.updated"].includes(ev.type)) {
      loadList();
      refreshViews();
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
    const me = await api("/api/v1/me");
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
start();
