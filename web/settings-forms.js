// The building blocks settings screens are made of: a table, a form of labelled inputs with its
// result line, a value to copy, and an editor for a JSON settings document.
import { el, toast } from "./dom.js";
import { t } from "./i18n.js";

export function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h ? t(h) : "")))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))));
}
// A form of labelled inputs: [name, label, {type, value, options, required, placeholder}].
export function form(id, fields, submit, onsubmit) {
  const inputs = fields.map(([name, label, o = {}]) => {
    const input = o.options
      ? el("select", { name }, ...o.options.map(([v, t]) => el("option", { value: v, selected: v === o.value }, t)))
      : o.type === "textarea" ? el("textarea", { name, rows: "3", placeholder: o.placeholder }, o.value || "")
      : el("input", { name, type: o.type || "text", value: o.value, required: o.required, placeholder: o.placeholder, autocomplete: "off" });
    return el("label", { "data-for": name, hidden: o.hidden }, label, input);
  });
  const out = el("p", { class: "result", role: "status" });
  const f = el("form", { id, class: "stack" }, ...inputs, el("button", {}, submit), out);
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const values = {};
    // Passwords are sent as typed; a field marked `clearable` sends "" to clear what was set.
    for (const [name, , o = {}] of fields) {
      const raw = f.elements[name].value;
      const v = o.type === "password" ? raw : raw.trim();
      if (v !== "" || o.clearable) values[name] = v;
    }
    out.className = "result"; out.textContent = "";
    try { await onsubmit(values, out); } catch (err) { out.className = "result error"; out.textContent = err.message; }
  });
  return f;
}
export function copyable(id, text) {
  const box = el("input", { id, readonly: true, value: text, "aria-label": t("Copy this"), size: "50" });
  const copy = () => { box.select(); if (navigator.clipboard) navigator.clipboard.writeText(text); toast(t("Copied")); };
  return el("span", { class: "copy" }, box, el("button", { type: "button", class: "secondary", onclick: copy }, t("Copy")));
}
// An editor for a JSON settings document: text, numbers, switches and comma-separated lists.
export function jsonFields(value, path = []) {
  return Object.entries(value).map(([k, v]) => {
    const name = [...path, k].join(".");
    const label = t(k.replace(/_/g, " "));
    if (v && typeof v === "object" && !Array.isArray(v)) return el("fieldset", {}, el("legend", {}, label), ...jsonFields(v, [...path, k]));
    if (typeof v === "boolean") return el("label", { class: "inline" }, el("input", { type: "checkbox", name, "data-kind": "bool", checked: v }), label);
    if (typeof v === "number") return el("label", {}, label, el("input", { type: "number", name, "data-kind": "number", value: String(v), min: "0" }));
    if (Array.isArray(v)) return el("label", {}, t("{label} (comma-separated)", { label }), el("input", { name, "data-kind": "list", value: v.join(", ") }));
    return el("label", {}, label, String(v).length > 60 || /text|confirmation/.test(k)
      ? el("textarea", { name, rows: "2" }, v || "") : el("input", { name, value: v == null ? "" : String(v) }));
  });
}
export function readJson(formEl, template) {
  const out = structuredClone(template);
  for (const input of formEl.querySelectorAll("[name]")) {
    const keys = input.name.split(".");
    let at = out;
    for (const k of keys.slice(0, -1)) at = at[k];
    const last = keys[keys.length - 1];
    const kind = input.dataset.kind;
    at[last] = kind === "bool" ? input.checked : kind === "number" ? Number(input.value) : kind === "list" ? input.value.split(",").map((s) => s.trim()).filter(Boolean) : input.value;
  }
  return out;
}
