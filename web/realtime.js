// The realtime socket: one per signed-in page, resumed from the last event after a drop; events
// update the list, the counts and the open thread in place, and notify the agent of what is theirs.
import { $, toast } from "./dom.js";
import { T } from "./i18n.js";
import { state } from "./state.js";
import { refreshList, refreshViews, markSeen } from "./list.js";
import { entry, openThread, showHead, showPresence, showScheduled, showVerdict } from "./thread.js";
import { showPanel } from "./panel.js";
import { upsert } from "./ui.js";

let socket = null;

export function send(frame) { if (socket && socket.readyState === 1) socket.send(JSON.stringify(frame)); }

// In-app always; from the browser too when the tab is hidden and the agent allowed it.
function notify(title, body, conv) {
  toast(`${title} — ${body}`);
  if (document.hidden && "Notification" in window && Notification.permission === "granted") {
    const n = new Notification(title, { body, tag: conv || undefined });
    n.onclick = () => { window.focus(); if (conv) openThread(conv); };
  }
}

// Notifications: assigned to me, mentioned, the customer writing in one of mine.
function notifyOf(ev, conv, about) {
  const me = state.me;
  if (ev.type === "conversation.updated" && ev.data.change.kind === "assignment" && conv && conv.assignee_id === me.id && ev.data.actor_id !== me.id) {
    notify(conv.contact_name || T.customer, T.assigned, about);
  }
  if (ev.type === "note.created" && (ev.data.note.mentions || []).includes(me.id)) {
    notify(conv ? conv.contact_name || T.customer : T.customer, `${T.mentioned}: ${ev.data.note.body}`, about);
  }
  if (ev.type === "message.created" && ev.data.message.direction === "inbound" && conv && conv.assignee_id === me.id) {
    notify(conv.contact_name || T.customer, `${T.wrote}: ${ev.data.message.body}`, about);
  }
}

function onPresence(ev) {
  if (ev.data.conversation_id !== state.current) return;
  if (ev.type === "viewers") state.others.viewers = ev.data.viewers;
  else state.others.typing.set(ev.data.user_id || ev.data.contact_id, { name: ev.data.name, agent: !!ev.data.user_id, until: Date.now() + 5000 });
  showPresence();
}

const TIMELINE = ["message.created", "note.created", "conversation.updated", "consent.changed", "message.updated", "survey.answered", "call", "automation.recorded"];

function onEvent(ev) {
  if (ev.type === "viewers" || ev.type === "typing") { onPresence(ev); return; }
  if (!TIMELINE.includes(ev.type)) return;
  refreshList();
  refreshViews();
  const about = ev.data.conversation ? ev.data.conversation.id : ev.data.conversation_id;
  const conv = ev.data.conversation;
  notifyOf(ev, conv, about);
  if (about !== state.current) return;
  // Seen as it happens when the agent is looking at it.
  if (!document.hidden && ev.type !== "message.updated") markSeen(state.current);
  // A customer writing, opting out or a status change can change what a reply may do.
  if (ev.type !== "message.updated") showVerdict(state.current);
  if (conv) showHead(conv);
  if (ev.type === "consent.changed" && conv) showPanel(conv);
  if (ev.type === "message.updated") {
    // Updated in place: re-rendering the thread would lose what the agent is typing.
    const shown = document.querySelector(`[data-message="${ev.data.message_id}"] .status`);
    if (shown) shown.textContent = ` · ${ev.data.status}`;
  } else {
    const log = $("#log");
    // By its sequence number: an event seen again after a reconnection is shown once.
    if (log) { upsert(log, ev.seq, entry(ev, conv)); log.scrollTop = log.scrollHeight; }
    // A scheduled reply that went (or was refused) leaves the scheduled list.
    if (log && ["message.created", "note.created"].includes(ev.type)) showScheduled(state.current);
  }
}

// After a drop it reconnects from the last event it saw, so nothing that happened meanwhile is missed.
export function connect() {
  disconnect();
  const since = state.lastSeq === null ? "" : `?since=${state.lastSeq}`;
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/realtime${since}`);
  socket = ws;
  ws.onopen = () => { if (state.current) send({ type: "viewing", conversation_id: state.current }); };
  ws.onmessage = (e) => {
    const ev = JSON.parse(e.data);
    if (typeof ev.seq === "number") state.lastSeq = ev.seq;
    // A first connection's `ready` says 0: the next event sets where to resume from.
    if (ev.type === "ready" && state.lastSeq === null && ev.data.last_seq > 0) state.lastSeq = ev.data.last_seq;
    // What happened between the first page's load and this socket's start came by no event.
    if (ev.type === "ready" && !since) { refreshList(); refreshViews(); }
    onEvent(ev);
  };
  ws.onclose = () => { if (socket === ws) setTimeout(connect, 2000); };
}
export function disconnect() {
  if (!socket) return;
  const ws = socket;
  socket = null;
  ws.onclose = null;
  ws.close();
}
