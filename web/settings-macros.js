// Macros: named, ordered lists of actions an agent runs on a conversation in one click from the
// thread's Macros menu. Admins write them here with the rule builder's action rows, in the order
// they run; the JSON is the API's macro (`{name, actions}`).
import { el, toast } from "./dom.js";
import { t } from "./i18n.js";
import { api } from "./api.js";
import { table } from "./settings-forms.js";
import { show } from "./settings.js";
import { ACTIONS, loadChoices, row } from "./settings-rules.js";
import { confirmDialog } from "./ui.js";
import { stepText } from "./thread.js";

// What a macro may do: the actions an agent's one click makes sense for.
const KINDS = ["send_template", "add_labels", "remove_labels", "set_priority", "assign", "note", "snooze", "resolve"];
// Built when first used: the rule builder's module may not have run yet when this one loads.
const macroActions = () => Object.fromEntries(KINDS.map((k) => [k, ACTIONS[k]]));

// The editor of `m` (a new macro when it has no id): its name and its steps in order.
function editor(m) {
  let rows = [];
  const box = el("div", { class: "stack", id: "macro-steps" });
  const redraw = () => box.replaceChildren(...rows.map((r) => r.node));
  const add = (v) => {
    const r = row(macroActions(), v, {
      cls: "action",
      onremove: () => { rows = rows.filter((x) => x !== r); },
      onmove: (by) => {
        const i = rows.indexOf(r), j = i + by;
        if (j < 0 || j >= rows.length) return;
        [rows[i], rows[j]] = [rows[j], rows[i]];
        redraw();
      },
    });
    rows.push(r);
    box.append(r.node);
  };
  (m.actions || []).forEach(add);
  const name = el("input", { name: "name", required: true, value: m.name || "", "aria-label": t("Name"), autocomplete: "off" });
  const out = el("p", { class: "result", role: "status" });
  const f = el("form", { id: "macro-editor", class: "stack" },
    el("h3", {}, m.id ? t("Edit macro {name}", { name: m.name }) : t("New macro")),
    el("label", {}, t("Name"), name),
    el("fieldset", {}, el("legend", {}, t("Steps, in the order they run")), box,
      el("button", { type: "button", class: "secondary", id: "add-step", onclick: () => { add(null); rows[rows.length - 1].node.querySelector("select").focus(); } }, t("Add a step"))),
    el("span", { class: "actions" }, el("button", { type: "submit" }, t("Save")),
      el("button", { type: "button", class: "secondary", onclick: () => f.remove() }, t("Close"))),
    out);
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.className = "result"; out.textContent = "";
    const body = { name: name.value.trim(), actions: rows.map((r) => r.read()) };
    try {
      await api(m.id ? `/api/v1/macros/${m.id}` : "/api/v1/macros", { method: m.id ? "PUT" : "POST", body: JSON.stringify(body) });
      toast(t("Saved")); show("macros");
    } catch (err) { out.className = "result error"; out.textContent = err.message; }
  });
  return f;
}

export const macros = { key: "macros", title: t("Macros"), roles: ["admin"], render: async (body) => {
  const [got] = await Promise.all([api("/api/v1/macros"), loadChoices()]);
  const items = got.items || [];
  const slot = el("div", {});
  const open = (m) => { slot.replaceChildren(editor(m)); slot.querySelector("input[name=name]").focus(); };
  const remove = async (m) => {
    if (!await confirmDialog(t("Delete the macro {name}?", { name: m.name }), { confirm: t("Delete"), danger: true })) return;
    try { await api(`/api/v1/macros/${m.id}`, { method: "DELETE" }); show("macros"); } catch (err) { toast(err.message, "warning"); }
  };
  body.append(
    el("p", { class: "muted" }, t("A macro runs its steps in order on a conversation when an agent picks it from the thread's Macros menu. Each step is recorded on the thread as the macro's, with what it did.")),
    items.length ? table(["Macro", "Steps", ""], items.map((m) => [m.name, (m.actions || []).map(stepText).join(", "),
      el("span", { class: "actions" },
        el("button", { type: "button", class: "secondary", "aria-label": t("Edit {name}", { name: m.name }), onclick: () => open(m) }, t("Edit")),
        el("button", { type: "button", class: "secondary", "aria-label": t("Delete {name}", { name: m.name }), onclick: () => remove(m) }, t("Delete")))]))
      : el("p", { class: "muted", id: "no-macros" }, t("No macros yet.")),
    el("button", { type: "button", id: "new-macro", onclick: () => open({ actions: [] }) }, t("New macro")),
    slot);
} };
