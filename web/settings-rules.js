// The rule builder: the workspace's automation rules in the order they run, each with its switch
// and how often it fired, and a builder for one rule (trigger, conditions, actions, limit) with a
// dry run showing what it would have done to recent conversations. The JSON is the API's rule.
// The action rows (`ACTIONS`, `row`, `loadChoices`) serve the macros screen too.
import { el, toast, when, warn } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./state.js";
import { api } from "./api.js";
import { table } from "./settings-forms.js";
import { show } from "./settings.js";

const PRIORITIES = ["urgent", "high", "normal", "low"];
const STATUSES = ["open", "pending", "snoozed", "resolved"];
const CHANNELS = ["sms", "whatsapp", "messenger", "instagram", "telegram", "line", "email", "widget", "api"];
const PURPOSES = ["conversational", "informational", "promotional"];

// Each kind: [label, fields]; a field is [name, type, label, options]. Types: text, optional
// (empty is none), list (comma-separated), minutes (sent as seconds), number, time, yesno, anyyesno,
// pick (one of options), many (several of options), template.
const TRIGGERS = {
  conversation_created: [t("A customer starts a conversation"), []],
  message_received: [t("A customer message arrives"), []],
  keyword: [t("A customer message holds a keyword"), [["keywords", "list", t("Keywords (comma-separated)")]]],
  pattern: [t("A customer message matches a pattern"), [["pattern", "text", t("Regular expression")]]],
  resolved: [t("A conversation is resolved"), []],
  reopened: [t("A conversation is reopened"), []],
  assignment_changed: [t("The assignee changes"), []],
  label_added: [t("A label is added"), [["label", "optional", t("Label (empty: any)")]]],
  call: [t("A call comes in"), [["answered", "anyyesno", t("Answered")]]],
  no_customer_reply: [t("No customer reply after our message"), [["after_secs", "minutes", t("After (minutes)")]]],
  no_agent_reply: [t("No agent reply after the customer's message"), [["after_secs", "minutes", t("After (minutes)")]]],
  idle: [t("The conversation is idle"), [["after_secs", "minutes", t("After (minutes)")]]],
  after_resolve: [t("Some time after resolving"), [["after_secs", "minutes", t("After (minutes)")]]],
  time_of_day: [t("Every day at a time"), [["at", "time", t("Time (workspace zone)")]]],
};
const options = {
  inboxes: () => state.inboxes.map((i) => [i.id, i.name]),
  teams: () => state.teams.map((x) => [x.id, x.name]),
  users: () => state.users.map((u) => [u.id, u.name || u.email]),
  priorities: () => PRIORITIES.map((p) => [p, t(p)]),
  statuses: () => STATUSES.map((s) => [s, t(s)]),
  channels: () => CHANNELS.map((c) => [c, c]),
  purposes: () => PURPOSES.map((p) => [p, t(p)]),
  lists: () => lists.map((l) => [l.id, l.name]),
  fieldops: () => [["eq", t("is")], ["ne", t("is not")], ["contains", t("contains")], ["present", t("is set")], ["absent", t("is not set")]],
  textops: () => [["contains", t("contains")], ["matches", t("matches the pattern")]],
  assignees: () => [["unassigned", t("nobody")], ["assigned", t("anyone")], ...options.users()],
};
const CONDITIONS = {
  inbox: [t("Inbox is"), [["in", "many", t("Inboxes"), "inboxes"]]],
  channel: [t("Channel is"), [["in", "many", t("Channels"), "channels"]]],
  contact_field: [t("Contact field"), [["key", "text", t("Field")], ["op", "pick", t("Test"), "fieldops"], ["value", "optional", t("Value")]]],
  on_list: [t("Contact on list"), [["list_id", "pick", t("List"), "lists"], ["is", "yesno", t("On it")]]],
  label: [t("Label"), [["label", "text", t("Label")], ["is", "yesno", t("Has it")]]],
  priority: [t("Priority is"), [["in", "many", t("Priorities"), "priorities"]]],
  status: [t("Status is"), [["in", "many", t("Statuses"), "statuses"]]],
  assignee: [t("Assignee is"), [["is", "pick", t("Assignee"), "assignees"]]],
  team: [t("Team is"), [["in", "many", t("Teams"), "teams"]]],
  business_hours: [t("Business hours"), [["open", "yesno", t("Open now")]]],
  consent: [t("Consent"), [["purpose", "pick", t("Purpose"), "purposes"], ["granted", "yesno", t("Granted")]]],
  message_text: [t("Message text"), [["op", "pick", t("Test"), "textops"], ["value", "text", t("Text")]]],
};
export const ACTIONS = {
  send_template: [t("Send a template"), [["template_id", "template", t("Template")]]],
  send_survey: [t("Send the satisfaction survey"), []],
  add_to_list: [t("Add to a list"), [["list_id", "pick", t("List"), "lists"]]],
  remove_from_list: [t("Remove from a list"), [["list_id", "pick", t("List"), "lists"]]],
  add_labels: [t("Add labels"), [["labels", "list", t("Labels (comma-separated)")]]],
  remove_labels: [t("Remove labels"), [["labels", "list", t("Labels (comma-separated)")]]],
  set_priority: [t("Set priority"), [["priority", "pick", t("Priority"), "priorities"]]],
  assign: [t("Assign"), [["user_id", "pick?", t("Agent"), "users"], ["team_id", "pick?", t("Team"), "teams"]]],
  note: [t("Add an internal note"), [["body", "text", t("Note")]]],
  snooze: [t("Snooze"), [["for_secs", "minutes", t("For (minutes)")]]],
  resolve: [t("Resolve"), []],
  reopen: [t("Reopen"), []],
  webhook: [t("Call a webhook"), [["url", "text", t("URL")]]],
};

let lists = [];
let templates = null; // null: the templates API is not there; a text id is asked for instead.

// One input for a field, and how to read it back.
function input(name, type, label, from, value) {
  const select = (opts, v, multiple) => el("select", { name, multiple, "aria-label": label },
    ...opts.map(([k, text]) => el("option", { value: k, selected: multiple ? (v || []).includes(k) : k === v }, text)));
  let node, read;
  if (type === "pick" || type === "pick?" || type === "many") {
    const opts = (type === "pick?" ? [["", t("none")]] : []).concat(options[from]());
    node = select(opts, type === "many" ? value : value ?? "", type === "many");
    read = () => type === "many" ? [...node.selectedOptions].map((o) => o.value) : (node.value || null);
  } else if (type === "yesno" || type === "anyyesno") {
    const opts = [...(type === "anyyesno" ? [["", t("either")]] : []), ["true", t("yes")], ["false", t("no")]];
    node = select(opts, value === undefined || value === null ? (type === "yesno" ? "true" : "") : String(value));
    read = () => node.value === "" ? null : node.value === "true";
  } else if (type === "template" && templates) {
    node = select(templates.map((x) => [x.id, x.shortcut ? `${x.name} (/${x.shortcut})` : x.name]), value);
    read = () => node.value;
  } else {
    const shown = type === "list" ? (value || []).join(", ") : type === "minutes" ? (value ? value / 60 : "") : (value ?? "");
    node = el("input", { name, "aria-label": label, value: shown, type: type === "minutes" || type === "number" ? "number" : type === "time" ? "time" : "text",
      placeholder: type === "template" ? t("Template id") : "" });
    read = () => {
      const v = node.value.trim();
      if (type === "list") return v.split(",").map((s) => s.trim()).filter(Boolean);
      if (type === "minutes") return Math.round(Number(v) * 60);
      if (type === "number") return Number(v);
      if (type === "optional") return v || null;
      return v;
    };
  }
  return { node: el("label", { class: "inline" }, label, " ", node), read };
}

// What the pickers offer: the contact lists and the templates (when the templates API is there).
export async function loadChoices() {
  const [l, tpl] = await Promise.all([api("/api/v1/lists").catch(() => ({ items: [] })), api("/api/v1/templates").catch(() => null)]);
  lists = l.items || [];
  templates = tpl && tpl.items;
}

// A row choosing one kind of `kinds` (trigger, condition or action) with its fields; with
// `onmove(by)`, buttons move it up (-1) or down (+1) among its siblings.
export function row(kinds, value, { cls, onremove, onmove } = {}) {
  const kind = el("select", { class: `${cls}-kind`, "aria-label": t("Kind") },
    ...Object.entries(kinds).map(([k, [label]]) => el("option", { value: k, selected: value && value.kind === k }, label)));
  const params = el("span", { class: "params" });
  let readers = [];
  const draw = (v) => {
    const fields = kinds[kind.value][1];
    const made = fields.map(([name, type, label, from]) => [name, input(name, type, label, from, v && v[name])]);
    readers = made.map(([name, m]) => [name, m.read]);
    params.replaceChildren(...made.map(([, m]) => m.node));
  };
  kind.addEventListener("change", () => draw(null));
  draw(value);
  // The row's buttons name the step they act on, as the kind chosen now says.
  const named = () => ({ kind: kinds[kind.value][0] });
  const labels = [() => t("Move “{kind}” up", named()), () => t("Move “{kind}” down", named()), () => t("Remove “{kind}”", named())];
  const button = (i, text, onclick) => el("button", { type: "button", class: "secondary", "aria-label": labels[i](), onclick }, text);
  const buttons = [
    onmove && button(0, "↑", (e) => { onmove(-1); e.currentTarget.focus(); }),
    onmove && button(1, "↓", (e) => { onmove(1); e.currentTarget.focus(); }),
    onremove && button(2, t("Remove"), () => { node.remove(); onremove(); }),
  ];
  kind.addEventListener("change", () => buttons.forEach((b, i) => b && b.setAttribute("aria-label", labels[i]())));
  const node = el("div", { class: `rule-row ${cls}` }, kind, params, ...buttons.filter(Boolean));
  const read = () => {
    const out = { kind: kind.value };
    for (const [name, r] of readers) {
      const v = r();
      if (v !== null) out[name] = v;
    }
    return out;
  };
  return { node, read };
}

// The builder for `rule` (a new one when it has no id).
function builder(rule) {
  const rows = { conditions: [], actions: [] };
  const name = el("input", { name: "name", required: true, value: rule.name || "", "aria-label": t("Name") });
  const inbox = el("select", { name: "inbox_id", "aria-label": t("Inbox") }, el("option", { value: "" }, t("Every inbox")),
    ...state.inboxes.map((i) => el("option", { value: i.id, selected: i.id === rule.inbox_id }, i.name)));
  const trigger = row(TRIGGERS, rule.trigger, { cls: "trigger" });
  const mode = el("select", { name: "match", "aria-label": t("Conditions match") },
    el("option", { value: "all", selected: (rule.conditions || {}).match !== "any" }, t("all of these")),
    el("option", { value: "any", selected: (rule.conditions || {}).match === "any" }, t("any of these")));
  const list = (key, kinds, cls) => {
    const box = el("div", { class: "stack", id: `rule-${key}` });
    const add = (v) => {
      const r = row(kinds, v, { cls, onremove: () => { rows[key] = rows[key].filter((x) => x !== r); } });
      rows[key].push(r); box.append(r.node);
    };
    return { box, add };
  };
  const conditions = list("conditions", CONDITIONS, "condition");
  const actions = list("actions", ACTIONS, "action");
  ((rule.conditions || {}).items || []).forEach(conditions.add);
  (rule.actions || []).forEach(actions.add);
  const limit = rule.limit || {};
  const max = el("input", { name: "limit_max", type: "number", min: "1", value: limit.max ?? "", "aria-label": t("At most") });
  const per = el("input", { name: "limit_per", type: "number", min: "1", value: limit.per_secs ? limit.per_secs / 3600 : "", "aria-label": t("every (hours)") });
  const enabled = el("input", { type: "checkbox", name: "enabled", checked: rule.enabled !== false });
  const out = el("p", { class: "result", role: "status" });
  const results = el("div", { id: "dry-run" });
  const read = () => {
    const body = { name: name.value.trim(), enabled: enabled.checked, inbox_id: inbox.value || null, trigger: trigger.read(),
      conditions: { match: mode.value, items: rows.conditions.map((r) => r.read()) }, actions: rows.actions.map((r) => r.read()),
      limit: max.value && per.value ? { max: Number(max.value), per_secs: Math.round(Number(per.value) * 3600) } : null };
    return rule.id ? { ...body, id: rule.id, position: rule.position } : body;
  };
  const f = el("form", { id: "rule-builder", class: "stack" },
    el("h3", {}, rule.id ? t("Edit rule") : t("New rule")),
    el("label", {}, t("Name"), name), el("label", {}, t("Applies to"), inbox),
    el("label", { class: "inline" }, enabled, t("On")),
    el("fieldset", {}, el("legend", {}, t("When")), trigger.node),
    el("fieldset", {}, el("legend", {}, t("If")), el("label", { class: "inline" }, t("Conditions match"), " ", mode), conditions.box,
      el("button", { type: "button", class: "secondary", id: "add-condition", onclick: () => conditions.add(null) }, t("Add a condition"))),
    el("fieldset", {}, el("legend", {}, t("Then")), actions.box,
      el("button", { type: "button", class: "secondary", id: "add-action", onclick: () => actions.add(null) }, t("Add an action"))),
    el("fieldset", {}, el("legend", {}, t("Limit (automatic messages per conversation)")),
      el("span", { class: "actions" }, el("label", { class: "inline" }, t("At most"), " ", max), el("label", { class: "inline" }, t("every (hours)"), " ", per))),
    el("span", { class: "actions" }, el("button", { type: "submit" }, t("Save")),
      rule.id ? el("button", { type: "button", class: "secondary", id: "dry-run-button", onclick: () => dryRun(rule.id, results).catch(warn) }, t("Dry run on recent conversations")) : "",
      el("button", { type: "button", class: "secondary", onclick: () => f.remove() }, t("Close"))),
    out, results);
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.className = "result"; out.textContent = "";
    try {
      const path = rule.id ? `/api/v1/automations/${rule.id}` : "/api/v1/automations";
      await api(path, { method: rule.id ? "PUT" : "POST", body: JSON.stringify(read()) });
      toast(t("Saved")); show("rules");
    } catch (err) { out.className = "result error"; out.textContent = err.message; }
  });
  return f;
}

// What the saved rule would have done to recent conversations, without doing it.
async function dryRun(id, box) {
  const items = (await api(`/api/v1/automations/${id}/dry-run`, { method: "POST", body: "{}" })).items || [];
  const kinds = (actions) => (actions || []).map((a) => (ACTIONS[a.kind] || [a.kind])[0] + (a.labels ? ` ${a.labels.map((l) => "#" + l).join(" ")}` : "")).join(", ");
  box.replaceChildren(el("h4", {}, t("Would have fired on {n} conversations", { n: items.length })),
    items.length ? table(["Conversation", "Actions"], items.map((i) => [el("a", { href: `#/c/${i.conversation_id}` }, i.conversation_id), kinds(i.actions)])) : "");
}

const summary = (r) => (TRIGGERS[r.trigger.kind] || [r.trigger.kind])[0] + (r.trigger.keywords ? `: ${r.trigger.keywords.join(", ")}` : "");

export const rules = { key: "rules", title: t("Rules"), roles: ["admin"], render: async (body) => {
  const [got] = await Promise.all([api("/api/v1/automations"), loadChoices()]);
  const items = got.items || [];
  const save = (r) => api(`/api/v1/automations/${r.id}`, { method: "PUT", body: JSON.stringify(r) });
  const order = (ids) => api("/api/v1/automations/order", { method: "POST", body: JSON.stringify({ ids }) }).then(() => show("rules")).catch(warn);
  const move = (i, by) => { const ids = items.map((r) => r.id); [ids[i], ids[i + by]] = [ids[i + by], ids[i]]; order(ids); };
  const slot = el("div", {});
  const open = (r) => { slot.replaceChildren(builder(r)); slot.querySelector("input[name=name]").focus(); };
  const strip = ({ fired, last_fired_at, ...r }) => r;
  body.append(
    el("p", { class: "muted" }, t("Rules run in this order when something happens to a conversation: the trigger, then the conditions, then the actions, each recorded on the thread as the rule's. A rule's own actions never set it off again.")),
    table(["On", "Rule", "When", "Last fired", "Fired", ""], items.map((r, i) => [
      el("input", { type: "checkbox", role: "switch", checked: r.enabled, "aria-label": t("{name} on", { name: r.name }),
        onchange: (e) => save({ ...strip(r), enabled: e.target.checked }).then(() => toast(t("Saved"))).catch(warn) }),
      r.name, summary(r), r.last_fired_at ? when(r.last_fired_at) : t("never"), String(r.fired || 0),
      el("span", { class: "actions" },
        i > 0 ? el("button", { type: "button", class: "secondary", "aria-label": t("Move {name} up", { name: r.name }), onclick: () => move(i, -1) }, "↑") : "",
        i < items.length - 1 ? el("button", { type: "button", class: "secondary", "aria-label": t("Move {name} down", { name: r.name }), onclick: () => move(i, 1) }, "↓") : "",
        el("button", { type: "button", class: "secondary", onclick: () => open(strip(r)) }, t("Edit")),
        el("button", { type: "button", class: "secondary", "aria-label": t("Remove {name}", { name: r.name }),
          onclick: () => api(`/api/v1/automations/${r.id}`, { method: "DELETE" }).then(() => show("rules")).catch(warn) }, t("Remove")))])),
    el("button", { type: "button", id: "new-rule", onclick: () => open({ trigger: { kind: "message_received" }, actions: [] }) }, t("New rule")),
    slot);
} };
