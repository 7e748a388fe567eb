// Settings of when the business answers: business hours (the workspace's, and an inbox's own that
// override them) with their holidays and special days, and each inbox's four auto-replies.
import { el, toast } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./state.js";
import { api } from "./api.js";
import { table } from "./settings-forms.js";
import { show } from "./settings.js";

const DAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"], ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"]];
const zoneGuess = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const zones = () => (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : []);

// The intervals of one day (or special day) as rows of two time inputs, edited in place in `list`.
function intervals(list, label, redraw) {
  const rows = list.map((iv, i) => el("span", { class: "interval" },
    el("input", { type: "time", value: iv[0], "aria-label": t("{day}: opens", { day: label }), onchange: (e) => { iv[0] = e.target.value; } }),
    " – ",
    el("input", { type: "time", value: iv[1], "aria-label": t("{day}: closes", { day: label }), onchange: (e) => { iv[1] = e.target.value; } }),
    el("button", { type: "button", class: "secondary", "aria-label": t("Remove this interval of {day}", { day: label }), onclick: () => { list.splice(i, 1); redraw(); } }, "×")));
  return el("span", { class: "intervals" }, ...(rows.length ? rows : [el("span", { class: "muted" }, t("Closed"))]),
    el("button", { type: "button", class: "secondary", "aria-label": t("Add hours to {day}", { day: label }), onclick: () => { list.push(["09:00", "17:00"]); redraw(); } }, t("Add hours")));
}

// The editor of one schedule: its zone, the week, and the special days. `hours` is edited in place.
function editor(hours, redraw) {
  const zone = el("input", { name: "time_zone", value: hours.time_zone, list: "zones", required: true, onchange: (e) => { hours.time_zone = e.target.value.trim(); } });
  const week = DAYS.map(([key, name]) => {
    hours.weekly[key] = hours.weekly[key] || [];
    return el("tr", {}, el("th", { scope: "row" }, t(name)), el("td", {}, intervals(hours.weekly[key], t(name), redraw)));
  });
  const special = Object.keys(hours.special_days).sort().map((day) => el("tr", {},
    el("th", { scope: "row" }, day),
    el("td", {}, intervals(hours.special_days[day], day, redraw),
      el("button", { type: "button", class: "secondary", onclick: () => { delete hours.special_days[day]; redraw(); } }, t("Remove day")))));
  const date = el("input", { type: "date", "aria-label": t("Date") });
  const addDay = (closed) => {
    if (!date.value) return toast(t("Pick a date first"), "warning");
    hours.special_days[date.value] = closed ? [] : [["09:00", "13:00"]];
    redraw();
  };
  return el("div", { class: "stack" },
    el("label", {}, t("Time zone (IANA, e.g. Europe/Paris)"), zone, el("datalist", { id: "zones" }, ...zones().map((z) => el("option", { value: z })))),
    el("h3", {}, t("Every week")),
    el("p", { class: "muted" }, t("Several intervals a day are fine; an interval that ends at or before it starts runs past midnight (22:00 – 02:00). A day with no hours is closed.")),
    el("table", { class: "hours" }, el("tbody", {}, ...week)),
    el("h3", {}, t("Holidays and special days")),
    el("p", { class: "muted" }, t("A special day replaces its weekday: closed, or other hours.")),
    el("table", { class: "hours" }, el("tbody", {}, ...special)),
    el("span", { class: "actions" }, date,
      el("button", { type: "button", class: "secondary", onclick: () => addDay(true) }, t("Add a holiday (closed)")),
      el("button", { type: "button", class: "secondary", onclick: () => addDay(false) }, t("Add special hours"))));
}

// An instant as the wall-clock time of the hours' own zone (where "9:00" means 9:00).
const inZone = (iso, zone) => `${new Date(iso).toLocaleString([], { timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" })} (${zone})`;

// What the hours of `target` ("" for the workspace, else an inbox id) are, and where they are kept.
const hoursPath = (target) => target ? `/api/v1/inboxes/${target}/business-hours` : "/api/v1/business-hours";

export const hours = { key: "hours", title: t("Business hours"), roles: ["admin"], render: async (body) => {
  const status = (await api("/api/v1/business-hours/status")).items;
  const from = { workspace: t("workspace"), inbox: t("its own"), none: t("none: always open") };
  const pick = el("select", { id: "hours-target", "aria-label": t("Whose hours") },
    el("option", { value: "" }, t("The workspace (every inbox without its own)")),
    ...state.inboxes.map((i) => el("option", { value: i.id }, t("Inbox {name} (its own hours)", { name: i.name }))));
  const area = el("div", { id: "hours-editor" });
  const load = async () => {
    const target = pick.value;
    const now = (await api(hoursPath(target))).hours;
    const model = now ? structuredClone(now) : { time_zone: zoneGuess(), weekly: {}, special_days: {} };
    model.special_days = model.special_days || {};
    const out = el("p", { class: "result", role: "status" });
    const redraw = () => area.replaceChildren(form);
    const save = async () => {
      const clean = { ...model, weekly: Object.fromEntries(Object.entries(model.weekly).filter(([, l]) => l.length)) };
      try {
        await api(hoursPath(target), { method: "PUT", body: JSON.stringify(clean) });
        toast(t("Saved")); show("hours");
      } catch (err) { out.className = "result error"; out.textContent = err.message; }
    };
    const remove = async () => {
      try { await api(hoursPath(target), { method: "DELETE" }); toast(t("Removed")); show("hours"); } catch (err) { toast(err.message, "warning"); }
    };
    let form;
    const build = () => {
      form = el("div", { class: "stack" },
        el("p", { class: "muted" }, now ? "" : target ? t("This inbox has no hours of its own: the workspace's apply.") : t("No business hours yet: every inbox is always open.")),
        editor(model, () => { build(); redraw(); }),
        el("span", { class: "actions" }, el("button", { type: "button", onclick: save }, t("Save")),
          now ? el("button", { type: "button", class: "secondary", onclick: remove }, target ? t("Use the workspace's hours") : t("Remove business hours")) : ""),
        out);
    };
    build(); redraw();
  };
  pick.addEventListener("change", () => load().catch((err) => toast(err.message, "warning")));
  body.append(
    el("h3", {}, t("Open now?")),
    table(["Inbox", "Now", "Next opening", "Hours"], status.map((s) => [s.name,
      s.open ? t("Open") : t("Closed"), s.next_open ? inZone(s.next_open, s.time_zone) : "",
      `${from[s.source] || s.source}${s.time_zone ? ` · ${s.time_zone}` : ""}`])),
    el("label", {}, t("Whose hours"), pick), area);
  await load();
} };

// ---- The four auto-replies of an inbox.
const REPLIES = [
  ["normal", "During business hours"],
  ["peak", "During business hours, when the queue is long"],
  ["after_hours", "After hours"],
  ["urgent", "After hours, for an urgent message"],
];

export const autoReplies = { key: "auto-replies", title: t("Auto-replies"), roles: ["admin"], render: async (body) => {
  if (!state.inboxes.length) { body.append(el("p", { class: "muted" }, t("Add an inbox first."))); return; }
  const pick = el("select", { id: "auto-replies-inbox", "aria-label": t("Inbox") }, ...state.inboxes.map((i) => el("option", { value: i.id }, i.name)));
  const area = el("div", {});
  const users = (await api("/api/v1/users")).items.filter((u) => !u.bot);
  const load = async () => {
    const path = `/api/v1/inboxes/${pick.value}/auto-replies`;
    const now = await api(path);
    area.replaceChildren(replyForm(now, users, async (next, out) => {
      try { await api(path, { method: "PUT", body: JSON.stringify(next) }); toast(t("Saved")); } catch (err) { out.className = "result error"; out.textContent = err.message; }
    }));
  };
  pick.addEventListener("change", () => load().catch((err) => toast(err.message, "warning")));
  body.append(
    el("p", { class: "muted" }, t("Each reply goes at most once per conversation in the period, only to a customer's own message (never to automatic mail), and only when the customer may be messaged. Texts may use merge fields: {{first_name | there}}, {{name}}, {{business_name}}, {{inbox.name}}, {{conversation.id}} and {{expected_wait}} — the median first response of the last hour while open (\"about 5 minutes\"), or \"when we open at 9:00\" after hours.")),
    el("label", {}, t("Inbox"), pick), area);
  await load();
} };

function replyForm(now, users, save) {
  const num = (name, value, label) => el("label", {}, label, el("input", { type: "number", min: "0", name, value: value == null ? "" : String(value) }));
  const sections = REPLIES.map(([key, title]) => {
    const r = now[key];
    const extra = key === "peak" ? [num("peak.max_unassigned", r.max_unassigned, t("More unassigned conversations waiting than")), num("peak.max_wait_minutes", r.max_wait_minutes, t("Or a median wait (minutes) over"))]
      : key === "urgent" ? [el("label", {}, t("Urgent words (comma-separated)"), el("input", { name: "urgent.keywords", value: r.keywords.join(", ") })),
        el("label", {}, t("Give the conversation to (on call)"), el("select", { name: "urgent.assign_to" }, el("option", { value: "" }, t("Nobody")),
          ...users.map((u) => el("option", { value: u.id, selected: u.id === r.assign_to }, u.name))))] : [];
    return el("fieldset", {}, el("legend", {}, t(title)),
      el("label", { class: "inline" }, el("input", { type: "checkbox", name: `${key}.enabled`, checked: r.enabled }), t("On")),
      el("label", {}, t("Text"), el("textarea", { name: `${key}.text`, rows: "2" }, r.text)), ...extra);
  });
  const out = el("p", { class: "result", role: "status" });
  const f = el("form", { id: "auto-replies", class: "stack" },
    num("period_hours", now.period_hours, t("At most once per conversation every (hours)")),
    el("label", {}, t("Expected wait when nobody was answered in the last hour"), el("input", { name: "default_wait", value: now.default_wait })),
    ...sections, el("button", {}, t("Save")), out);
  f.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = (name) => f.elements[name];
    const next = { period_hours: Number(v("period_hours").value), default_wait: v("default_wait").value };
    for (const [key] of REPLIES) next[key] = { enabled: v(`${key}.enabled`).checked, text: v(`${key}.text`).value };
    const opt = (name) => (v(name).value === "" ? null : Number(v(name).value));
    next.peak.max_unassigned = opt("peak.max_unassigned");
    next.peak.max_wait_minutes = opt("peak.max_wait_minutes");
    next.urgent.keywords = v("urgent.keywords").value.split(",").map((s) => s.trim()).filter(Boolean);
    next.urgent.assign_to = v("urgent.assign_to").value || null;
    out.className = "result"; out.textContent = "";
    save(next, out);
  });
  return f;
}
