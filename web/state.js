// The app's state, owned here and nowhere else: who is signed in, the workspace's directory, what
// the agent is looking at and writing. Parts of the screen read and change it; none keeps its own copy.
import { T } from "./i18n.js";

export const state = {
  // Kept for every tab of this browser: a tab opened later shares the session cookie.
  csrf: localStorage.getItem("csrf") || "",
  me: null,
  inboxes: [], teams: [], users: [], templates: [],
  view: null,
  // The open conversation's id, and what the agent has selected in the list.
  current: null,
  selected: new Set(),
  // What the agent was writing in each conversation they left, so switching never loses a draft.
  drafts: new Map(),
  // The composer writes a reply or a private note; `denied` when a reply may not be sent now.
  mode: "reply",
  denied: false,
  // Where the open thread's older entries start.
  older: null,
  // Who else is here: other agents viewing or typing in this conversation, the customer typing.
  others: { viewers: [], typing: new Map() },
  // The last realtime event seen, to resume from after a drop.
  lastSeq: null,
};

// Channel names as agents know them (text, not pictures: readable everywhere, and by screen readers).
export const ICONS = { twilio: "SMS", whatsapp: "WhatsApp", messenger: "Messenger", instagram: "Instagram", telegram: "Telegram", line: "LINE", email: "Email", widget: "Chat", api: "API" };

export const inboxOf = (id) => state.inboxes.find((x) => x.id === id);
export function channelOf(inboxId) {
  const i = inboxOf(inboxId);
  return i ? `${ICONS[i.kind] || i.kind} · ${i.name}` : "";
}
export function assigneeOf(id) {
  if (!id) return T.nobody;
  const u = state.users.find((x) => x.id === id);
  return u ? u.name : "";
}
