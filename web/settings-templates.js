// Templates: texts with merge fields agents insert by `/shortcut`, automations send and the API
// names by id. The editor previews the text for a sample contact as it is typed; an admin also
// declares the contact fields (by key) templates may use.
import { el, toast, when } from "./dom.js";
import { t } from "./i18n.js";
import { api } from "./api.js";
import { reload } from "./app.js";
import { table, form } from "./settings-forms.js";
import { show } from "./settings.js";

const CHANNELS = [["sms", "SMS"], ["whatsapp", "WhatsApp"], ["messenger", "Messenger"], ["instagram", "Instagram"],
  ["telegram", "Telegram"], ["line", "LINE"], ["email", "Email"], ["widget", "Website chat"], ["api", "API"]];
const ENCODINGS = { gsm7: "GSM-7", ucs2: "UCS-2 (Unicode)" };

// The live preview of `body` for the sample contact, on the first channel chosen.
let previewDue = null;
function preview(body, channels, out) {
  clearTimeout(previewDue);
  previewDue = setTimeout(async () => {
    if (!body.trim()) { out.replaceChildren(); return; }
    try {
      const req = { body };
      if (channels.length) req.channel = channels.includes("sms") ? "sms" : channels[0];
      const r = await api("/api/v1/templates/preview", { method: "POST", body: JSON.stringify(req) });
      out.className = "template-preview";
      out.replaceChildren(el("p", { id: "preview-text" }, r.text),
        r.fell_back.length ? el("p", { class: "small muted" }, t("Fell back: {fields}", { fields: r.fell_back.join(", ") })) : "",
        r.sms ? el("p", { class: "small muted", id: "preview-sms" }, t("SMS: {encoding} · {segments} segments · {characters} characters",
          { encoding: ENCODINGS[r.sms.encoding] || r.sms.encoding, segments: r.sms.segments, characters: r.sms.characters })) : "");
    } catch (err) { out.className = "template-preview error"; out.textContent = err.message; }
  }, 200);
}

// The editor of one template (`tpl` null: a new one).
function editor(tpl, fields) {
  const name = el("input", { name: "name", value: tpl ? tpl.name : "", placeholder: t("Order shipped"), autocomplete: "off" });
  const shortcut = el("input", { name: "shortcut", value: tpl ? tpl.shortcut : "", required: true, placeholder: "shipped", autocomplete: "off" });
  const body = el("textarea", { name: "body", rows: "4", placeholder: "Hi {{first_name | there}}, your order has shipped." }, tpl ? tpl.body : "");
  const boxes = CHANNELS.map(([v, label]) => el("label", { class: "inline" },
    el("input", { type: "checkbox", name: "channels", value: v, checked: tpl ? tpl.channels.includes(v) : false }), t(label)));
  const chosen = () => boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
  const out = el("div", { id: "template-preview", class: "template-preview", role: "status", "aria-live": "polite" });
  const result = el("p", { class: "result", role: "status" });
  const again = () => preview(body.value, chosen(), out);
  body.addEventListener("input", again);
  for (const b of boxes) b.addEventListener("change", again);
  const f = el("form", { id: "template-form", class: "stack" },
    el("h3", {}, tpl ? t("Edit /{shortcut}", { shortcut: tpl.shortcut }) : t("New template")),
    el("label", {}, t("Name"), name), el("label", {}, t("Shortcut"), shortcut),
    el("fieldset", {}, el("legend", {}, t("Channels (none ticked: every channel)")), ...boxes),
    el("label", {}, t("Text"), body),
    el("p", { class: "small muted" }, t("Fields: {fields}. Add a fallback after a bar: {example}.",
      { fields: [...fields.built_in, ...fields.custom].map((k) => `{{${k}}}`).join(" "), example: "{{first_name | there}}" })),
    el("p", { class: "small muted" }, t("Preview for a sample contact:")), out,
    el("button", {}, tpl ? t("Save") : t("Add")), result);
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const req = { name: name.value.trim(), shortcut: shortcut.value.trim(), body: body.value, channels: chosen() };
    try {
      await api(tpl ? `/api/v1/templates/${tpl.id}` : "/api/v1/templates", { method: tpl ? "PATCH" : "POST", body: JSON.stringify(req) });
      await reload(); show("templates");
    } catch (err) { result.className = "result error"; result.textContent = err.message; }
  });
  if (tpl) again();
  return f;
}

export const templates = { key: "templates", title: t("Templates"), roles: ["admin"], render: async (body) => {
  const [list, fields] = await Promise.all([api("/api/v1/templates"), api("/api/v1/templates/fields")]);
  const items = list.items;
  const slot = el("div", { id: "template-editor" }, editor(null, fields));
  const edit = (tpl) => { slot.replaceChildren(editor(tpl, fields)); slot.querySelector("textarea").focus(); };
  const remove = async (tpl) => {
    try { await api(`/api/v1/templates/${tpl.id}`, { method: "DELETE" }); await reload(); show("templates"); } catch (err) { toast(err.message, "warning"); }
  };
  const channels = (x) => x.channels.length ? x.channels.map((c) => t((CHANNELS.find(([v]) => v === c) || [c, c])[1])).join(", ") : t("Every channel");
  const uses = (x) => x.uses ? t("{n} times, last {when}", { n: x.uses, when: when(x.last_used_at) }) : t("never");
  body.append(
    el("p", { class: "muted" }, t("Agents insert a template by typing / and its shortcut in the composer, or from its Templates menu; its fields are filled in for the conversation before it is sent.")),
    table(["Name", "Shortcut", "Channels", "Used", ""], items.map((x) => [x.name, `/${x.shortcut}`, channels(x), uses(x),
      el("span", { class: "actions" },
        el("button", { type: "button", class: "secondary", "aria-label": t("Edit /{shortcut}", { shortcut: x.shortcut }), onclick: () => edit(x) }, t("Edit")),
        el("button", { type: "button", class: "secondary", "aria-label": t("Remove /{shortcut}", { shortcut: x.shortcut }), onclick: () => remove(x) }, t("Remove")))])),
    slot,
    el("h3", {}, t("Contact fields templates may use")),
    form("template-fields", [["custom", t("Contact field keys, comma-separated"), { value: fields.custom.join(", "), placeholder: "loyalty_program, order_id", clearable: true }]], t("Save fields"),
      async (v, out) => {
        const custom = (v.custom || "").split(",").map((s) => s.trim()).filter(Boolean);
        await api("/api/v1/templates/fields", { method: "PUT", body: JSON.stringify({ custom }) });
        out.textContent = t("Saved");
        show("templates");
      }));
} };
