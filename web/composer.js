// The composer under the thread: a reply to the customer (now, or sent later at a chosen time) or a
// private note, with files, quick-reply choices, WhatsApp templates, templates (`/word`, rendered
// for the conversation before they are inserted), @mentions, emoji, and the SMS cost of a draft.
import { $, el, toast } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./state.js";
import { api } from "./api.js";
import { send } from "./realtime.js";
import { chip } from "./ui.js";
import { showScheduled } from "./thread.js";

const ENCODINGS = { gsm7: "GSM-7", ucs2: "UCS-2 (Unicode)" };
const EMOJI = ["🙂", "😀", "😉", "🙏", "👍", "👋", "🎉", "❤️", "✅", "❗", "🚚", "📦", "⏰", "📞", "💳", "🔧"];

// The SMS encoding and segments a draft costs, as the agent types.
let costDue = null;
function showCost(box) {
  clearTimeout(costDue);
  const out = $("#cost");
  if (!out || $("#thread").dataset.kind !== "twilio") return;
  costDue = setTimeout(async () => {
    if (!box.value) { out.textContent = ""; return; }
    const c = await api("/api/v1/sms/segments", { method: "POST", body: JSON.stringify({ text: box.value }) });
    out.textContent = `${ENCODINGS[c.encoding] || c.encoding} · ${c.segments} segment${c.segments === 1 ? "" : "s"} · ${c.remaining} left`;
  }, 150);
}

let typingSent = 0;
function typed() {
  // At most every three seconds: enough for the other side's indicator, which lasts five. The
  // customer is told only of a reply being written, never of a note.
  if (state.current && Date.now() - typingSent > 3000) { typingSent = Date.now(); send({ type: "typing", conversation_id: state.current, to_customer: state.mode === "reply" }); }
}

// A note may be written even when a reply may not be sent.
export function showMode() {
  const box = $("#compose"), button = $("#reply");
  if (!box || !button) return;
  const note = state.mode === "note";
  box.classList.toggle("note-mode", note);
  box.placeholder = note ? t("Write a private note… (@name to mention)") : t("Write a reply… (/ for templates)");
  button.textContent = note ? t("Add note") : t("Reply");
  button.disabled = !note && state.denied;
  const radio = $(note ? "#mode-note" : "#mode-reply");
  if (radio) radio.checked = true;
}
export function setMode(m) { state.mode = m; typingSent = 0; showMode(); }

function insertAtCursor(box, text) {
  const [a, b] = [box.selectionStart, box.selectionEnd];
  box.value = box.value.slice(0, a) + text + box.value.slice(b);
  box.selectionStart = box.selectionEnd = a + text.length;
  box.focus();
  box.dispatchEvent(new Event("input"));
}

// The templates that may be used in a conversation: those of every channel and of its own.
function usableIn(conv) {
  const inbox = state.inboxes.find((i) => i.id === conv.inbox_id);
  const channel = inbox && (inbox.kind === "twilio" ? "sms" : inbox.kind);
  return (state.templates || []).filter((x) => !x.channels.length || x.channels.includes(channel));
}
// The templates of the open conversation, and how one is put in its draft (set by `composer`).
let usable = [];
let pickTemplate = () => {};

export function keepDraft() {
  const box = $("#compose");
  const { current, drafts } = state;
  if (current && box) { if (box.value) drafts.set(current, box.value); else drafts.delete(current); }
}

// The inbox's approved templates, asked of Meta when the agent first opens this part; picking
// one fills its name and language and shows its text and the parameters it takes.
function templatePart(conv) {
  const name = el("input", { id: "template-name", "aria-label": t("Template name"), placeholder: "order_update" });
  const lang = el("input", { id: "template-language", "aria-label": t("Template language"), placeholder: "en_US", size: "6" });
  const params = el("input", { id: "template-params", "aria-label": t("Template parameters, separated by commas"), placeholder: t("params, comma-separated") });
  let list = null;
  let named = { name: "", names: [] };
  const pick = el("select", { id: "template-pick", "aria-label": t("Approved template") }, el("option", { value: "" }, t("Approved templates…")));
  const body = el("p", { id: "template-body", class: "small muted", role: "status" });
  const use = el("button", { type: "button", id: "template-use", class: "secondary", onclick: () => {
    const x = list && list[Number(pick.value)];
    if (!pick.value || !x) return;
    name.value = x.name; lang.value = x.language;
    named = { name: x.name, names: x.named ? x.params : [] };
    params.placeholder = x.params.length ? x.params.join(", ") : t("no parameters");
    body.textContent = x.body;
    params.focus();
  } }, t("Use"));
  const part = el("details", { id: "template", hidden: true, ontoggle: async () => {
    if (!part.open || list) return;
    list = [];
    try {
      list = (await api(`/api/v1/inboxes/${conv.inbox_id}/templates`)).items;
      pick.append(...list.map((x, i) => el("option", { value: String(i) }, `${x.name} · ${x.language}`)));
    } catch (err) { body.textContent = err.message; }
  } }, el("summary", {}, t("WhatsApp template")), pick, use, body, name, lang, params);
  return {
    part,
    // The template to send, when one is filled in.
    value() {
      if (part.hidden || !name.value.trim()) return null;
      const tpl = { name: name.value.trim(), language: lang.value.trim() || "en_US", params: params.value.split(",").map((s) => s.trim()).filter(Boolean) };
      // A template with named parameters is sent with each one's name.
      if (named.names.length && named.name === tpl.name) tpl.names = named.names;
      return tpl;
    },
    clear() { name.value = ""; params.value = ""; body.textContent = ""; pick.value = ""; },
  };
}

// Files are uploaded as they are picked; the message carries their ids.
function filesPart(conv) {
  const ids = [];
  const shown = el("span", { id: "files", class: "small" });
  const picker = el("input", { type: "file", id: "attach", multiple: true, "aria-label": t("Attach files"), onchange: async (e) => {
    for (const f of e.target.files) {
      try {
        const headers = { "content-type": f.type || "application/octet-stream", "x-csrf-token": state.csrf };
        const up = await fetch(`/api/v1/inboxes/${conv.inbox_id}/attachments?filename=${encodeURIComponent(f.name)}`, { method: "POST", body: f, credentials: "same-origin", headers });
        const body = await up.json();
        if (!up.ok) throw new Error(body.error.message);
        ids.push(body.id);
        shown.append(chip(`📎 ${f.name}`));
      } catch (err) { toast(`${f.name}: ${err.message}`, "warning"); }
    }
    e.target.value = "";
  } });
  return { ids, shown, picker, clear() { ids.length = 0; shown.replaceChildren(); } };
}

// The composer form for a conversation; `box` is its draft and `via` the other channels' picker.
// A note is kept even when a mention in it names nobody or several people; the agent is told
// which, so nobody is left believing a teammate was notified.
function warnMentions(out) {
  const unresolved = (out && out.unresolved_mentions) || [];
  const ambiguous = (out && out.ambiguous_mentions) || [];
  if (unresolved.length) {
    toast(t("Nobody was notified for {mentions}: no teammate goes by that name.",
      { mentions: unresolved.join(", ") }), "warning");
  }
  for (const a of ambiguous) {
    toast(t("Nobody was notified for {mention}: it could be {candidates}; mention one by email, like @{example}.", {
      mention: a.mention,
      candidates: a.candidates.map((c) => `${c.name} (${c.email})`).join(", "),
      example: (a.candidates[0] && a.candidates[0].email.split("@")[0]) || "name",
    }), "warning");
  }
}

export function composer(conv) {
  const id = conv.id;
  const box = el("textarea", { id: "compose", "aria-label": t("Message"), rows: "3",
    oninput: () => { showCost(box); typed(); suggest(box); },
    onkeydown: (e) => {
      if (pickMention(box, e)) return;
      if (e.key === "Tab" && !e.shiftKey) { const r = matching(box.value)[0]; if (r) { e.preventDefault(); pickTemplate(r, true); } }
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $("#reply").click(); }
    } });
  const files = filesPart(conv);
  const choices = el("input", { id: "choices", "aria-label": t("Quick-reply choices, separated by commas"), placeholder: t("Choices: Yes, No"), size: "18" });
  const template = templatePart(conv);
  const via = el("select", { id: "via", "aria-label": t("Reply on"), hidden: true });
  // A template is inserted as the server renders it for this conversation; sent unchanged, the
  // reply names the template, so the server renders it again and counts the use.
  let used = null;
  usable = usableIn(conv);
  pickTemplate = async (tpl, replace) => {
    try {
      const r = await api(`/api/v1/templates/${tpl.id}/preview`, { method: "POST", body: JSON.stringify({ conversation_id: id }) });
      if (replace) { box.value = r.text; box.focus(); box.dispatchEvent(new Event("input")); } else insertAtCursor(box, r.text);
      used = box.value === r.text ? { id: tpl.id, text: r.text } : null;
      if (r.fell_back.length) toast(t("No value for {fields}: the fallback was used.", { fields: r.fell_back.join(", ") }));
    } catch (err) { toast(err.message, "warning"); }
  };
  // Send later: the reply waits on the server and the compliance gate judges it when it is due.
  const later = el("input", { type: "datetime-local", id: "send-at", "aria-label": t("Send later at"), title: t("Send later at") });
  const sendAs = (kind) => async (e) => {
    e.preventDefault();
    const body = { };
    if (box.value.trim()) body.body = box.value;
    if (kind === "messages") {
      const cs = choices.value.split(",").map((s) => s.trim()).filter(Boolean);
      if (cs.length) body.choices = cs.map((title, i) => ({ id: `c${i + 1}`, title }));
      if (files.ids.length) body.attachments = files.ids.slice();
      const tpl = template.value();
      if (tpl) body.template = tpl;
      if (later.value) body.send_at = new Date(later.value).toISOString();
    }
    if (!body.body && !body.attachments && !body.template) return;
    const plain = kind === "messages" && !body.choices && !body.attachments && !body.template && !(via.value && via.value !== conv.inbox_id);
    if (plain && used && box.value === used.text) { delete body.body; body.template_id = used.id; }
    try {
      const other = kind === "messages" && via.value && via.value !== conv.inbox_id;
      if (other && body.send_at) throw new Error(t("A reply on another channel cannot be scheduled: reply here, or send it now."));
      if (other && (body.attachments || body.choices || body.template)) throw new Error(t("On another channel a reply is text only: remove the files, choices or template, or reply here."));
      if (other) await api(`/api/v1/contacts/${conv.contact_id}/messages`, { method: "POST", body: JSON.stringify({ body: body.body || "", inbox_id: via.value }) });
      else {
        const out = await api(`/api/v1/conversations/${id}/${kind}`, { method: "POST", body: JSON.stringify(body) });
        if (kind === "notes") warnMentions(out);
        if (out && out.scheduled) { toast(t("Scheduled for {time}", { time: new Date(out.scheduled.send_at).toLocaleString() })); showScheduled(id); }
      }
      later.value = "";
      box.value = ""; choices.value = ""; files.clear(); template.clear(); used = null;
      state.drafts.delete(id);
      showCost(box);
    } catch (err) { $("#verdict").className = "error"; $("#verdict").textContent = err.message; }
  };
  // Menus act on their button, not on `change`: arrowing through a closed select fires `change` in
  // some browsers, and a keyboard user must be able to look before acting.
  const saved = el("select", { id: "saved", "aria-label": t("Template") },
    el("option", { value: "" }, t("Templates…")), ...usable.map((r) => el("option", { value: r.shortcut }, `/${r.shortcut}`)));
  const insert = el("button", { type: "button", id: "insert-saved", class: "secondary", onclick: () => {
    const r = usable.find((x) => x.shortcut === saved.value);
    if (r) pickTemplate(r, !box.value);
    saved.value = "";
  } }, t("Insert"));
  const emoji = el("details", { class: "emoji" }, el("summary", { "aria-label": t("Insert an emoji") }, t("Emoji")),
    el("div", { class: "grid" }, ...EMOJI.map((x) => el("button", { type: "button", class: "quiet", "aria-label": t("Insert {emoji}", { emoji: x }), onclick: () => insertAtCursor(box, x) }, x))));
  const form = el("form", { id: "composer", onsubmit: (e) => sendAs(state.mode === "note" ? "notes" : "messages")(e) },
    el("fieldset", { class: "mode" }, el("legend", {}, t("Write")),
      el("label", { class: "inline" }, el("input", { type: "radio", name: "mode", id: "mode-reply", onchange: () => setMode("reply") }), t("Reply to the customer")),
      el("label", { class: "inline" }, el("input", { type: "radio", name: "mode", id: "mode-note", onchange: () => setMode("note") }), t("Private note"))),
    el("ul", { id: "suggest", class: "suggest", role: "listbox", "aria-label": t("Templates"), hidden: true }),
    box,
    el("div", { class: "actions" }, el("button", { id: "reply" }, t("Reply")),
      el("label", { class: "inline small" }, t("Send later"), " ", later),
      saved, insert, emoji, files.picker, files.shown, choices, via, template.part));
  return { form, box, via };
}

// Templates matching a draft that is `/word`.
function matching(text) {
  const m = /^\/([\p{L}\p{N}_-]*)$/u.exec(text);
  return m ? usable.filter((r) => r.shortcut.startsWith(m[1].toLowerCase())) : [];
}
function suggest(box) {
  const list = $("#suggest");
  mention = mentionAt(box);
  if (mention) { showMentions(box); return; }
  list.setAttribute("aria-label", t("Templates"));
  const found = matching(box.value).slice(0, 8);
  list.hidden = found.length === 0;
  list.replaceChildren(...found.map((r, i) => el("li", { role: "option", "aria-selected": i === 0 ? "true" : "false" },
    el("button", { type: "button", class: "quiet", onclick: () => { list.hidden = true; pickTemplate(r, true); } },
      el("strong", {}, `/${r.shortcut}`), " ", el("span", { class: "muted" }, `${r.name} · ${r.body.slice(0, 60)}`)))));
}

// ---- @mentions in a note: teammates matching the `@word` at the caret, picked by arrow keys and
// Enter or Tab, or by a click; the mention inserted is one the server resolves to them alone.
let mention = null;
function mentionAt(box) {
  if (state.mode !== "note") return null;
  const before = box.value.slice(0, box.selectionStart);
  const m = /(?:^|[^\p{L}\p{N}@])@([\p{L}\p{N}_.-]*)$/u.exec(before);
  if (!m) return null;
  const q = m[1].toLowerCase();
  const found = state.users.filter((u) => !u.bot && (u.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q))
    || u.name.toLowerCase().startsWith(q) || u.email.toLowerCase().startsWith(q))).slice(0, 6);
  return found.length ? { start: before.length - m[1].length - 1, end: box.selectionStart, found, index: 0 } : null;
}
// The same rules as the server: the email's local part or the whole name first, then a first name.
function mentionNames(key, u) {
  const squash = (s) => s.toLowerCase().replace(/[\s._-]/g, "");
  const local = (x) => x.email.slice(0, x.email.lastIndexOf("@")).toLowerCase();
  const exact = state.users.filter((x) => local(x) === key || (squash(key) && squash(x.name) === squash(key)));
  const found = exact.length ? exact : state.users.filter((x) => (x.name.split(/\s+/)[0] || "").toLowerCase() === key);
  return found.length === 1 && found[0].id === u.id;
}
function mentionOf(u) {
  const first = u.name.split(/\s+/)[0] || "";
  const local = u.email.slice(0, u.email.lastIndexOf("@"));
  const tries = [
    [/^[\p{L}\p{N}_.-]+$/u.test(first) && `@${first}`, first],
    [!u.name.includes('"') && `@"${u.name.trim().replace(/\s+/g, " ")}"`, u.name.trim().replace(/\s+/g, " ")],
    [/^[\p{L}\p{N}_.-]+$/u.test(local) && `@${local}`, local],
  ];
  const hit = tries.find(([written, key]) => written && mentionNames(key.toLowerCase(), u));
  return hit ? hit[0] : `@"${u.name}"`;
}
function insertMention(box, u) {
  const written = `${mentionOf(u)} `;
  box.value = box.value.slice(0, mention.start) + written + box.value.slice(mention.end);
  const caret = mention.start + written.length;
  box.setSelectionRange(caret, caret);
  mention = null;
  $("#suggest").hidden = true;
  box.focus();
  showCost(box);
}
function showMentions(box) {
  const list = $("#suggest");
  list.setAttribute("aria-label", t("Teammates"));
  list.hidden = false;
  list.replaceChildren(...mention.found.map((u, i) => el("li", { role: "option", "aria-selected": i === mention.index ? "true" : "false" },
    el("button", { type: "button", class: "quiet", onmousedown: (e) => e.preventDefault(), onclick: () => insertMention(box, u) },
      el("strong", {}, u.name), " ", el("span", { class: "muted" }, u.email)))));
}
// Keys on the draft while teammates are offered; true when the key was theirs.
function pickMention(box, e) {
  if (!mention || $("#suggest").hidden) return false;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    const n = mention.found.length;
    mention.index = (mention.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
    showMentions(box);
  } else if ((e.key === "Enter" && !e.ctrlKey && !e.metaKey) || (e.key === "Tab" && !e.shiftKey)) {
    insertMention(box, mention.found[mention.index]);
  } else if (e.key === "Escape") {
    mention = null;
    $("#suggest").hidden = true;
  } else {
    return false;
  }
  e.preventDefault();
  return true;
}
