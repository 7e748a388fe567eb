// The middle column: the open conversation's title and actions, who else is here, its timeline
// (older entries loaded on scrolling up), what a reply may do now, and the composer under it.
import { $, el, ago, when, toast, warn } from "./dom.js";
import { t, T } from "./i18n.js";
import { state, channelOf, assigneeOf } from "./state.js";
import { api, act } from "./api.js";
import { loadList, markSeen } from "./list.js";
import { composer, keepDraft, showMode } from "./composer.js";
import { showPanel } from "./panel.js";
import { send } from "./realtime.js";
import { icon, menu, skeleton, splitButton, upsert } from "./ui.js";

const SNOOZES = [
  ["1h", t("For an hour"), () => new Date(Date.now() + 3600e3)],
  ["tomorrow", t("Until tomorrow 9:00"), () => { const d = new Date(); d.setDate(d.getDate() + 1); d.setHours(9, 0, 0, 0); return d; }],
  ["week", t("For a week"), () => new Date(Date.now() + 7 * 86400e3)],
  ["pick", t("Pick a date…"), null],
];

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

function message(m, conv, at) {
  // Who wrote it when it was not a person: the bot, an automation, Parley itself (compliance texts).
  const bot = m.sender_kind === "bot" ? el("span", { class: "tag" }, t("bot · {name}", { name: assigneeOf(m.sender_id) }))
    : ["automation", "system"].includes(m.sender_kind) ? el("span", { class: "tag" }, t(m.sender_kind)) : null;
  const choices = m.meta && m.meta.choices ? el("span", { class: "muted small" }, ` [${m.meta.choices.map((c) => c.title).join(" | ")}]`) : null;
  const via = m.meta && m.meta.template ? el("span", { class: "tag" }, `template ${m.meta.template.name}`) : null;
  // The mail server in front of Parley found this mail's sender forged (DMARC failed).
  const forged = m.meta && m.meta.unverified ? el("span", { class: "tag", title: t("The sender's domain says this mail is not theirs (DMARC failed); it changed no consent") }, t("unverified sender")) : null;
  return el("div", { class: `msg ${m.direction}`, "data-message": m.id }, bot, by(m.meta || {}), via, forged, m.body,
    el("small", { class: "status" }, m.direction === "outbound" ? ` · ${m.status}` : ""), choices,
    ...attachments(m, (conv && conv.inbox_id) || m.inbox_id), el("small", { class: "meta" }, at));
}

// Who gave a command when a rule or a macro did: a small tag before the entry.
function by(d) {
  if (d.macro) return el("span", { class: "tag" }, t("macro · {name}", { name: d.macro.name }));
  if (d.rule) return el("span", { class: "tag" }, t("rule · {name}", { name: d.rule.name }));
  return null;
}

// What one automated step was, in a few words ("Add labels #vip").
const STEPS = { send_template: t("Send a template"), send_survey: t("Send the satisfaction survey"), add_to_list: t("Add to a list"),
  remove_from_list: t("Remove from a list"), add_labels: t("Add labels"), remove_labels: t("Remove labels"), set_priority: t("Set priority"),
  assign: t("Assign"), note: t("Add an internal note"), snooze: t("Snooze"), resolve: t("Resolve"), reopen: t("Reopen"), webhook: t("Call a webhook") };
export function stepText(a) {
  const what = a.labels ? a.labels.map((l) => "#" + l).join(" ") : a.priority ? t(a.priority) : a.body ? `“${a.body}”` : "";
  return [STEPS[a.kind] || a.kind, what].filter(Boolean).join(" ");
}
const OUTCOMES = { done: t("done"), unchanged: t("unchanged"), denied: t("denied"), skipped: t("skipped"), held_back: t("held back"), recorded: t("queued"), failed: t("failed") };
const outcomeText = (o) => OUTCOMES[o] || o;

function change(c, at, d) {
  const team = (id) => (state.teams.find((x) => x.id === id) || {}).name;
  const text = c.kind === "status" ? t("Status: {status}", { status: t(c.to) })
    : c.kind === "assignment" ? t(c.team_id ? "Assigned to {agent} (team {team})" : "Assigned to {agent}", { agent: assigneeOf(c.assignee_id), team: team(c.team_id) })
    : c.kind === "priority" ? t("Priority: {priority}", { priority: t(c.priority) })
    : c.kind === "labels" ? t("Labels: {labels}", { labels: [...c.added.map((l) => "+#" + l), ...c.removed.map((l) => "−#" + l)].join(" ") })
    : null;
  if (!text) return el("div", { hidden: true });
  return el("div", { class: "event muted" }, by(d), text, " ", at);
}

// One timeline entry as the thread shows it, keyed by the event's sequence number.
export function entry(item, conv) {
  const node = entryOf(item, conv);
  if (item.seq !== undefined) node.dataset.key = String(item.seq);
  return node;
}
function entryOf(item, conv) {
  const d = item.data;
  const at = item.at ? el("time", { datetime: item.at, title: when(item.at) }, ago(item.at)) : null;
  if (item.type === "message.created") return message(d.message, conv, at);
  if (item.type === "note.created") return el("div", { class: "note" }, by(d), el("strong", {}, t("Note ")), ...mentionText(d.note.body), el("small", { class: "meta" }, at));
  if (item.type === "conversation.updated") return change(d.change, at, d);
  // A step of a rule or a macro that left nothing else on the thread: unchanged, refused, failed.
  if (item.type === "automation.recorded") {
    return el("div", { class: `event muted step ${d.outcome}` }, by(d), t("{step}: {outcome}", { step: stepText(d.action || {}), outcome: outcomeText(d.outcome) }),
      d.detail ? ` (${d.detail})` : "", " ", at);
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
  if (item.type === "call") {
    const who = (d.conversation && d.conversation.contact_name) || t("the customer");
    const mins = d.duration_secs ? ` · ${Math.floor(d.duration_secs / 60)}:${String(d.duration_secs % 60).padStart(2, "0")}` : "";
    return el("div", { class: d.answered ? "event call" : "event call missed" },
      d.answered ? t("Call from {name}", { name: who }) + mins : t("Missed call from {name}", { name: who }), " ", at);
  }
  return el("div", { hidden: true });
}

// What the compliance gate and the channel's window say about a reply now, before it is written.
export async function showVerdict(id) {
  const ch = await api(`/api/v1/conversations/${id}/channel`);
  if (id !== state.current) return;
  const v = ch.compliance.conversational || { verdict: "allow" };
  const reply = $("#reply");
  const say = $("#verdict");
  if (!reply || !say) return;
  const windowShut = ch.window && ch.window.state !== "open";
  // Outside WhatsApp's window the server refuses free text but takes a template: leave Send on.
  state.denied = v.verdict === "deny" && !(ch.window && ch.window.state === "template_only");
  showMode();
  say.className = v.verdict === "allow" && !windowShut ? "muted" : "warning";
  say.textContent = v.verdict === "allow" ? (ch.window.reason || "") : v.verdict === "hold" ? t("Held until {time}: {reason}", { time: when(v.until), reason: v.reason }) : v.reason;
  $("#thread").dataset.kind = ch.kind;
  // WhatsApp outside its window takes only an approved template.
  const tpl = $("#template");
  if (tpl) tpl.hidden = !(ch.kind === "whatsapp");
  if (tpl && windowShut) tpl.open = true;
}

// Replies scheduled to go later, under the timeline: each with its time and a cancel button.
export async function showScheduled(id) {
  const box = $("#scheduled");
  if (!box || id !== state.current) return;
  let page;
  try { page = await api(`/api/v1/conversations/${id}/scheduled`); } catch (_) { return; }
  if (id !== state.current) return;
  const cancel = (s) => () => api(`/api/v1/conversations/${id}/scheduled/${s.id}`, { method: "DELETE" }).then(() => showScheduled(id)).catch(warn);
  box.replaceChildren(...page.items.map((s) => el("div", { class: "msg outbound scheduled", "data-scheduled": s.id },
    el("span", { class: "tag" }, t("scheduled for {time}", { time: when(s.send_at) })), s.body || t("(template)"), " ",
    el("button", { type: "button", class: "quiet", "aria-label": t("Cancel the reply scheduled for {time}", { time: when(s.send_at) }), onclick: cancel(s) }, t("Cancel")))));
}

// Other agents viewing or typing here, and the customer typing.
export function showPresence() {
  const out = $("#collision");
  if (!out) return;
  const { others } = state;
  const now = Date.now();
  for (const [k, v] of others.typing) if (v.until < now) others.typing.delete(k);
  const typing = [...others.typing.values()];
  const agentTyping = typing.find((x) => x.agent);
  const viewers = others.viewers.filter((v) => v.user_id !== state.me.id).map((v) => v.name);
  out.replaceChildren(...[
    agentTyping ? el("p", { class: "warning" }, T.agentTyping(agentTyping.name)) : null,
    !agentTyping && viewers.length ? el("p", { class: "warning" }, T.viewing(viewers.join(", "))) : null,
    ...typing.filter((x) => !x.agent).map((x) => el("p", { class: "muted" }, T.typing(x.name))),
  ].filter(Boolean));
}
setInterval(showPresence, 1000);

let loadingOlder = false;
async function loadOlder(id, log) {
  if (!state.older || loadingOlder) return;
  loadingOlder = true;
  try {
    const conv = await api(`/api/v1/conversations/${id}`);
    const page = await api(`/api/v1/conversations/${id}/timeline?limit=50&before=${state.older}`);
    if (id !== state.current) return;
    const height = log.scrollHeight;
    log.prepend(...page.items.map((i) => entry(i, conv)));
    log.scrollTop += log.scrollHeight - height;
    state.older = page.before;
  } finally { loadingOlder = false; }
}

// Runs macro `m` on the conversation and says how each step went, under the thread's actions;
// the thread then shows what the steps changed (the socket brings the same entries, keyed alike).
async function runMacro(id, m) {
  const out = $("#macro-result");
  out.replaceChildren(el("p", { class: "muted" }, t("Running {name}…", { name: m.name })));
  let r;
  try {
    r = await api(`/api/v1/conversations/${id}/macros/${m.id}`, { method: "POST", body: "{}" });
  } catch (err) { out.replaceChildren(el("p", { class: "error" }, t("{name} did not run: {reason}", { name: m.name, reason: err.message }))); return; }
  if (id !== state.current) return;
  const bad = r.steps.filter((s) => !["done", "unchanged", "recorded"].includes(s.outcome)).length;
  const said = bad ? t("{name}: {n} of {total} steps did not go through", { name: m.name, n: bad, total: r.steps.length }) : t("{name} ran", { name: m.name });
  out.replaceChildren(el("p", {}, el("strong", {}, said), " ",
    el("button", { type: "button", class: "quiet", "aria-label": t("Hide the macro's results"), onclick: () => out.replaceChildren() }, "×")),
    el("ol", { class: "steps" }, ...r.steps.map((s) => el("li", { class: `step ${s.outcome}` },
      `${stepText(s.action)}: `, el("strong", {}, outcomeText(s.outcome)), s.detail ? ` — ${s.detail}` : ""))));
  toast(said, bad ? "warning" : "info");
  showHead(r.conversation);
  const tl = await api(`/api/v1/conversations/${id}/timeline?limit=50`);
  const log = $("#log");
  if (id !== state.current || !log) return;
  for (const i of tl.items) upsert(log, i.seq, entry(i, r.conversation));
  log.scrollTop = log.scrollHeight;
}

// The thread's actions: resolve or reopen, assign (to me, or anyone from its menu), priority,
// snooze (a menu of times, or a date picked), the workspace's macros and labels.
function actions(id, macros) {
  const status = el("button", { id: "status-action", type: "button", "aria-keyshortcuts": "e", onclick: (e) => act(id, e.currentTarget.dataset.action).catch(warn) });
  const setPriority = (e) => api(`/api/v1/conversations/${id}`, { method: "PATCH", body: JSON.stringify({ priority: e.target.value }) }).catch(warn);
  const priority = el("select", { id: "priority", "aria-label": t("Priority"), onchange: setPriority },
    ...["urgent", "high", "normal", "low"].map((p) => el("option", { value: p }, t(p))));
  const assignTo = (body) => () => act(id, "assign", body).catch(warn);
  const assign = splitButton(t("Assign to me"), assignTo({ assignee_id: state.me.id }), [
    [t("Nobody"), assignTo({ assignee_id: null })],
    ...state.users.map((u) => [u.bot ? t("{name} (bot)", { name: u.name }) : u.name, assignTo({ assignee_id: u.id })]),
    ...(state.teams.length ? [null, ...state.teams.map((tm) => [t("Team {name}", { name: tm.name }), assignTo({ team_id: tm.id })])] : []),
  ], { id: "assign-me", menuLabel: t("Assign to…") });
  const snoozeAt = el("input", { type: "datetime-local", "aria-label": t("Snooze until"), hidden: true });
  const snoozeGo = el("button", { type: "button", id: "snooze-go", class: "secondary", hidden: true, onclick: () => {
    if (snoozeAt.value) act(id, "snooze", { until: new Date(snoozeAt.value).toISOString() }).catch(warn);
  } }, t("Snooze"));
  const snooze = menu(el("button", { type: "button", id: "snooze", class: "secondary", "aria-keyshortcuts": "s" }, icon("clock"), t("Snooze…")),
    SNOOZES.map(([, label, due]) => [label, () => {
      if (due) { act(id, "snooze", { until: due().toISOString() }).catch(warn); return; }
      snoozeAt.hidden = snoozeGo.hidden = false;
      snoozeAt.focus();
    }]));
  const run = macros.length ? menu(el("button", { type: "button", id: "macros", class: "secondary", "aria-keyshortcuts": "m" }, t("Macros…")),
    macros.map((m) => [el("span", { "data-macro": m.id }, m.name), () => runMacro(id, m).catch(warn)])) : null;
  const label = el("input", { "aria-label": t("Add a label"), placeholder: t("label"), size: "10" });
  return el("div", { class: "actions" }, status, assign, priority, snooze, snoozeAt, snoozeGo, run, el("span", { class: "labels", id: "labels" }),
    el("form", { class: "add-label", onsubmit: (e) => { e.preventDefault(); if (label.value.trim()) act(id, "labels", { add: [label.value.trim()] }).catch(warn); label.value = ""; } }, label));
}

// Back to the list (on a phone, where the list and the thread take turns).
function back() {
  keepDraft();
  $("#inbox").classList.remove("reading");
  state.current = null;
  send({ type: "viewing", conversation_id: null });
  history.replaceState(null, "", "#/");
}

export async function openThread(id, force = false) {
  if (id === state.current && !force && $("#compose")) return;
  keepDraft();
  state.current = id;
  markSeen(id);
  state.others.viewers = []; state.others.typing.clear();
  send({ type: "viewing", conversation_id: id });
  if (location.hash !== `#/c/${id}`) history.replaceState(null, "", `#/c/${id}`);
  $("#inbox").classList.add("reading");
  if (!$("#log")) { $("#thread").replaceChildren(skeleton(5)); $("#panel").replaceChildren(skeleton(6)); }
  const [conv, tl, macros] = await Promise.all([api(`/api/v1/conversations/${id}`), api(`/api/v1/conversations/${id}/timeline?limit=50`),
    api("/api/v1/macros").catch(() => ({ items: [] }))]);
  if (id !== state.current) return;
  state.older = tl.before;
  const log = el("div", { id: "log", tabindex: "0", "aria-label": t("Conversation"), onscroll: (e) => { if (e.target.scrollTop < 40) loadOlder(id, e.target); } },
    ...tl.items.map((i) => entry(i, conv)));
  const writer = composer(conv);
  $("#thread").replaceChildren(
    el("button", { type: "button", class: "back quiet", onclick: back }, t("← Conversations")),
    el("h2", { id: "thread-title" }), actions(id, macros.items || []), el("div", { id: "macro-result", class: "macro-result", role: "status", "aria-live": "polite" }),
    el("div", { id: "collision", role: "status", "aria-live": "polite" }), log,
    el("div", { id: "scheduled", "aria-label": t("Scheduled replies") }),
    el("p", { id: "verdict", class: "muted", "aria-live": "polite" }),
    writer.form,
    el("p", { id: "cost", class: "muted", "aria-live": "polite" }));
  writer.box.value = state.drafts.get(id) || "";
  state.denied = false;
  showMode();
  showHead(conv);
  log.scrollTop = log.scrollHeight;
  loadList();
  showVerdict(id);
  showScheduled(id);
  showChannels(conv, writer.via);
  showPanel(conv);
}

// Other channels the contact can be answered on, when there is more than this one.
async function showChannels(conv, via) {
  try {
    const chs = await api(`/api/v1/contacts/${conv.contact_id}/channels`);
    const items = chs.items || chs;
    if (conv.id !== state.current || items.length < 2) return;
    via.replaceChildren(...items.map((c) => el("option", { value: c.inbox_id, selected: c.inbox_id === conv.inbox_id }, t("Reply on {channel}", { channel: channelOf(c.inbox_id) || c.kind }))));
    via.hidden = false;
  } catch (_) { /* the picker stays hidden */ }
}

// The thread's title and its resolve/reopen button, as the conversation is now.
export function showHead(conv) {
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
