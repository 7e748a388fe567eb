// The left column: the views with their live counts, the conversation list with its SLA clocks and
// unread marks, and what the agent does to several selected conversations at once.
import { $, el, ago, when, toast } from "./dom.js";
import { t, T } from "./i18n.js";
import { state, channelOf, assigneeOf } from "./state.js";
import { api, act } from "./api.js";
import { keyed } from "./ui.js";

// The views: the query each lists, and where its count is in `/conversations/counts`.
const BASE_VIEWS = [
  { key: "mine", query: "status=open&assignee=me", count: (c) => c.mine },
  { key: "unassigned", query: "status=open&assignee=none", count: (c) => c.unassigned },
  { key: "open", query: "status=open", count: (c) => c.statuses.open },
  { key: "pending", query: "status=pending", count: (c) => c.statuses.pending },
  { key: "snoozed", query: "status=snoozed", count: (c) => c.statuses.snoozed },
  { key: "resolved", query: "status=resolved", count: (c) => c.statuses.resolved },
];
state.view = BASE_VIEWS[2];

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
  const due = sla.target === "first_response" ? "{policy}: first response due {when}" : "{policy}: next response due {when}";
  const span = el("span", { "data-due": sla.due_at, title: t(due, { policy: sla.policy, when: when(sla.due_at) }) });
  slaClock(span);
  return span;
}
setInterval(() => document.querySelectorAll("#list .sla").forEach(slaClock), 30000);

// ---- Unread: the server keeps, per agent, when they last looked at each conversation; a
// conversation whose customer waits with news since is unread. The tab title counts those in Mine.
export async function showUnread() {
  const mine = await api("/api/v1/conversations?status=open&assignee=me&limit=100");
  const n = mine.items.filter((c) => c.unread && c.id !== state.current).length;
  document.title = n ? `(${n}) Parley` : "Parley";
}
let seenDue = null;
export function markSeen(id) {
  clearTimeout(seenDue);
  seenDue = setTimeout(() => api(`/api/v1/conversations/${id}/seen`, { method: "POST" }).then(refreshList).catch(() => {}), 300);
}
document.addEventListener("visibilitychange", () => { if (!document.hidden && state.current) markSeen(state.current); });

export async function loadViews() {
  const c = await api("/api/v1/conversations/counts");
  const views = [
    ...BASE_VIEWS.map((v) => ({ ...v, label: T[v.key], n: v.count(c) || 0 })),
    ...state.inboxes.map((i) => ({ key: `inbox:${i.id}`, label: i.name, query: `status=open&inbox=${i.id}`, n: c.inboxes[i.id] || 0 })),
    ...state.teams.map((tm) => ({ key: `team:${tm.id}`, label: tm.name, query: `status=open&team=${tm.id}`, n: c.teams[tm.id] || 0 })),
    ...Object.keys(c.labels).map((l) => ({ key: `label:${l}`, label: `#${l}`, query: `status=open&label=${encodeURIComponent(l)}`, n: c.labels[l] })),
  ];
  $("#views").replaceChildren(...views.map((v) => el("li", {},
    el("button", { type: "button", class: "view", "data-view": v.key, "aria-pressed": v.key === state.view.key ? "true" : "false",
      onclick: () => { state.view = v; loadViews(); loadList(); } },
    v.label, " ", el("span", { class: "count" }, String(v.n))))));
}

// Several events often arrive together: the counts and the list are read once for them.
let countsDue = null, listDue = null;
export function refreshViews() { clearTimeout(countsDue); countsDue = setTimeout(() => { loadViews(); showUnread().catch(() => {}); }, 150); }
export function refreshList() { clearTimeout(listDue); listDue = setTimeout(loadList, 100); }

function showBulk() {
  $("#bulk").hidden = state.selected.size === 0;
  $("#bulk-count").textContent = T.selected(state.selected.size);
}

function row(c) {
  const { selected, current } = state;
  return el("li", { class: `row p-${c.priority}` },
    el("input", { type: "checkbox", "aria-label": t("Select {name}", { name: c.contact_name || T.customer }), checked: selected.has(c.id),
      onchange: (e) => { if (e.target.checked) selected.add(c.id); else selected.delete(c.id); showBulk(); } }),
    el("a", { href: `#/c/${c.id}`, "data-id": c.id, "aria-current": c.id === current ? "true" : "false", class: c.unread && c.id !== current ? "unread" : "" },
      el("span", { class: "line" }, el("strong", {}, c.contact_name || T.customer),
        el("span", { class: "wait muted" }, c.waiting_since ? `${T.waiting} ${ago(c.waiting_since)}` : t(c.status)), slaChip(c.sla)),
      el("span", { class: "line small muted" }, el("span", { class: "channel" }, channelOf(c.inbox_id)),
        el("span", { class: "assignee" }, assigneeOf(c.assignee_id))),
      el("span", { class: "preview" }, c.last_message || "")));
}

export async function loadList() {
  const page = await api(`/api/v1/conversations?${state.view.query}&sort=${$("#sort").value}&limit=100`);
  for (const id of [...state.selected]) if (!page.items.some((c) => c.id === id)) state.selected.delete(id);
  // Rows are updated by key; a row that changed is replaced, and gets the keyboard focus back.
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#list li");
  const focusId = focused && focused.querySelector("a[data-id]").dataset.id;
  const onBox = focused && document.activeElement.type === "checkbox";
  keyed($("#list"), page.items, (c) => c.id, row);
  if (focusId && !document.activeElement.closest("#list li")) {
    const a = document.querySelector(`#list a[data-id="${focusId}"]`);
    if (a) (onBox ? a.parentElement.querySelector("input") : a).focus();
  }
  showBulk();
}

async function bulk(action) {
  const ids = [...state.selected];
  const results = await Promise.allSettled(ids.map(action));
  const failed = results.filter((r) => r.status === "rejected").length;
  if (failed) {
    const reason = results.find((r) => r.status === "rejected").reason.message;
    toast(t("{done} done, {failed} refused: {reason}", { done: ids.length - failed, failed, reason }), "warning");
  } else toast(t("{done} done", { done: ids.length }), "info");
  state.selected.clear();
  loadList();
}
$("#bulk-assign").addEventListener("click", () => bulk((id) => act(id, "assign", { assignee_id: state.me.id })));
$("#bulk-resolve").addEventListener("click", () => bulk((id) => act(id, "resolve")));
$("#bulk").addEventListener("submit", (e) => {
  e.preventDefault();
  const l = $("#bulk-label").value.trim();
  if (l) bulk((id) => act(id, "labels", { add: [l] }));
  $("#bulk-label").value = "";
});
$("#sort").addEventListener("change", loadList);
