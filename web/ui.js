// The kit the screens are built from: icons, icon buttons, menus and split buttons, avatars, chips,
// tabs, a combobox, skeletons, empty states, a confirm dialog, and keyed updates of rows and
// entries. Framework-free; every piece is an element with its keyboard behaviour and accessible name.
import { el } from "./dom.js";
import { t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const SPRITE = "/static/icons.svg";
let ids = 0;
const uid = (prefix) => `${prefix}-${++ids}`;

// An icon from the sprite; decorative unless `label` names it for screen readers.
export function icon(name, label) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("focusable", "false");
  if (label) { svg.setAttribute("role", "img"); svg.setAttribute("aria-label", label); } else svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(SVG, "use");
  use.setAttribute("href", `${SPRITE}#i-${name}`);
  svg.append(use);
  return svg;
}

// A button showing only an icon: `label` is its name and its tooltip, which also names its
// keyboard shortcut when it has one.
export function iconButton(name, label, { shortcut, class: cls, ...attrs } = {}) {
  const tip = shortcut ? t("{label} ({key})", { label, key: shortcut }) : label;
  return el("button", { type: "button", class: `icon-button ${cls || ""}`.trim(), ...attrs,
    "aria-label": label, "aria-keyshortcuts": shortcut, "data-tip": tip }, icon(name));
}

// Places a popover under (or, without room, over) the element that opened it.
function place(pop, anchor) {
  const r = anchor.getBoundingClientRect();
  const h = pop.offsetHeight, w = pop.offsetWidth;
  const below = r.bottom + 4 + h <= innerHeight || r.top - 4 - h < 0;
  pop.style.top = `${below ? r.bottom + 4 : r.top - 4 - h}px`;
  pop.style.left = `${Math.max(4, Math.min(r.left, innerWidth - w - 4))}px`;
}

// Arrow keys, Home and End move between `items` (a function, as the items may change).
function roving(box, items, onEsc) {
  box.addEventListener("keydown", (e) => {
    const all = items();
    const at = all.indexOf(document.activeElement);
    const to = { ArrowDown: at + 1, ArrowRight: at + 1, ArrowUp: at - 1, ArrowLeft: at - 1, Home: 0, End: all.length - 1 }[e.key];
    if (to !== undefined && all.length) { e.preventDefault(); all[(to + all.length) % all.length].focus(); }
    if (e.key === "Escape" && onEsc) onEsc(e);
  });
}

// A menu of actions opened by `button`: a popover (light-dismissed, in the top layer), focus on
// its first item, arrow keys between items; picking one closes it and runs the item's action.
// `items` are [label, action] pairs, or null for a separator. Returns the button with its menu.
export function menu(button, items) {
  const pop = el("div", { popover: "auto", role: "menu", class: "menu", id: uid("menu") });
  pop.append(...items.map((item) => item ? el("button", { type: "button", role: "menuitem", tabindex: "-1",
    onclick: () => { pop.hidePopover(); button.focus(); item[1](); } }, item[0]) : el("hr", { role: "separator" })));
  const entries = () => [...pop.querySelectorAll("[role=menuitem]")];
  roving(pop, entries);
  button.setAttribute("aria-haspopup", "menu");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", pop.id);
  // As the popover's invoker, a click on the button while the menu is open closes it (a click
  // handler would see the menu light-dismissed first, and open it again).
  button.popoverTargetElement = pop;
  button.addEventListener("keydown", (e) => { if (e.key === "ArrowDown") { e.preventDefault(); pop.showPopover(); } });
  pop.addEventListener("toggle", (e) => {
    const open = e.newState === "open";
    button.setAttribute("aria-expanded", String(open));
    if (open) { place(pop, button); entries()[0]?.focus(); }
  });
  const wrap = el("span", { class: "menu-wrap" });
  if (button.parentNode) button.replaceWith(wrap);
  wrap.append(button, pop);
  return wrap;
}

// A main action with a menu of its variants beside it; returns the group holding both.
export function splitButton(label, action, items, { id, menuLabel } = {}) {
  const main = el("button", { type: "button", id, onclick: action }, label);
  const more = iconButton("chevron-down", menuLabel || t("More: {label}", { label }), { class: "split-more" });
  return el("span", { class: "split", role: "group" }, main, menu(more, items));
}

// A person's initials, with their channel as a badge when given ({kind, label}).
export function avatar(name, channel) {
  const initials = (name || "?").trim().split(/\s+/).slice(0, 2).map((w) => [...w][0] || "").join("").toUpperCase() || "?";
  const CHANNEL_ICONS = { twilio: "phone", email: "mail", widget: "chat", api: "bot", telegram: "send" };
  return el("span", { class: "avatar", "aria-hidden": "true" }, initials,
    channel ? el("span", { class: "avatar-badge", title: channel.label }, icon(CHANNEL_ICONS[channel.kind] || "message")) : null);
}

// A small label; with `onRemove`, a button (named `removeLabel`) takes it off.
export function chip(text, { onRemove, removeLabel, ...attrs } = {}) {
  return el("span", { class: "chip", ...attrs }, text,
    onRemove ? iconButton("x", removeLabel || t("Remove {name}", { name: text }), { class: "chip-remove", onclick: onRemove }) : null);
}

// Tabs over panels: [{key, label, render()}]; arrow keys move between tabs, the panel is drawn
// when its tab is chosen.
export function tabs(items, { selected = items[0] && items[0].key, onchange } = {}) {
  const panel = el("div", { role: "tabpanel", class: "tab-panel", tabindex: "0", id: uid("panel") });
  const list = el("div", { role: "tablist", class: "tabs" });
  const choose = (key) => {
    for (const b of list.children) {
      const on = b.dataset.key === key;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      if (on) panel.setAttribute("aria-labelledby", b.id);
    }
    const item = items.find((i) => i.key === key);
    panel.replaceChildren(...[].concat(item ? item.render() : []));
    if (onchange) onchange(key);
  };
  list.append(...items.map((i) => el("button", { type: "button", role: "tab", id: uid("tab"), "data-key": i.key, "aria-controls": panel.id,
    onclick: () => choose(i.key) }, i.label)));
  roving(list, () => [...list.children]);
  list.addEventListener("focusin", (e) => { if (e.target.dataset.key && e.target.getAttribute("aria-selected") !== "true") choose(e.target.dataset.key); });
  choose(selected);
  return el("div", { class: "tabbed" }, list, panel);
}

// A text box that offers matching options as the agent types: arrow keys to move, Enter to pick,
// Escape to close. `options` are [value, label]; `onpick(value)` receives the one picked.
export function combobox({ label, options, onpick, placeholder }) {
  const list = el("ul", { role: "listbox", class: "combo-list", id: uid("list"), hidden: true });
  const input = el("input", { role: "combobox", "aria-label": label, "aria-expanded": "false", "aria-controls": list.id,
    "aria-autocomplete": "list", autocomplete: "off", placeholder });
  let shown = [], at = -1;
  const draw = () => {
    list.replaceChildren(...shown.map(([value, text], i) => el("li", { role: "option", id: `${list.id}-${i}`, "aria-selected": String(i === at),
      onmousedown: (e) => e.preventDefault(), onclick: () => pick(value, text) }, text)));
    list.hidden = shown.length === 0;
    input.setAttribute("aria-expanded", String(!list.hidden));
    if (at >= 0) input.setAttribute("aria-activedescendant", `${list.id}-${at}`); else input.removeAttribute("aria-activedescendant");
  };
  const pick = (value, text) => { input.value = text; shown = []; at = -1; draw(); onpick(value); };
  input.addEventListener("input", () => {
    const q = input.value.trim().toLowerCase();
    shown = q ? options.filter(([, text]) => text.toLowerCase().includes(q)).slice(0, 8) : [];
    at = shown.length ? 0 : -1;
    draw();
  });
  input.addEventListener("keydown", (e) => {
    if (!shown.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") { at = (at + (e.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length; draw(); }
    else if (e.key === "Enter" && at >= 0) pick(...shown[at]);
    else if (e.key === "Escape") { shown = []; at = -1; draw(); }
    else return;
    e.preventDefault();
  });
  input.addEventListener("blur", () => { shown = []; at = -1; draw(); });
  return el("span", { class: "combo" }, input, list);
}

// Grey lines where content is loading; the container says it is busy.
export function skeleton(lines = 3) {
  return el("div", { class: "skeleton", "aria-busy": "true", role: "status", "aria-label": t("Loading…") },
    ...Array.from({ length: lines }, () => el("span", { class: "skeleton-line" })));
}

// What an empty place says, with what to do about it.
export function emptyState(name, title, text, action) {
  return el("div", { class: "empty" }, icon(name), el("p", { class: "empty-title" }, title), text ? el("p", { class: "muted" }, text) : null, action || null);
}

// Asks before something that cannot be undone; resolves true when confirmed. A modal <dialog>:
// focus stays in it, Escape cancels.
export function confirmDialog(text, { confirm = t("OK"), cancel = t("Cancel"), danger = false } = {}) {
  const dialog = el("dialog", { class: "confirm", "aria-label": t("Confirm") },
    el("p", {}, text),
    el("form", { method: "dialog", class: "actions" },
      // What cannot be undone is not the default: Enter cancels it.
      el("button", { value: "cancel", class: "secondary", autofocus: danger }, cancel),
      el("button", { value: "ok", class: danger ? "danger" : "", autofocus: !danger }, confirm)));
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => { resolve(dialog.returnValue === "ok"); dialog.remove(); }, { once: true });
    dialog.showModal();
  });
}

// Brings `parent`'s children in line with `items` by key (each child's data-key): a child whose
// rendering is unchanged stays as it is (with its focus and state), a changed one is replaced,
// new ones are inserted in order and the others removed.
export function keyed(parent, items, keyOf, render) {
  const old = new Map([...parent.children].filter((c) => c.dataset.key).map((c) => [c.dataset.key, c]));
  let next = parent.firstElementChild;
  for (const item of items) {
    const key = String(keyOf(item));
    const fresh = render(item);
    fresh.dataset.key = key;
    const was = old.get(key);
    old.delete(key);
    const node = was && was.isEqualNode(fresh) ? was : fresh;
    if (was && node !== was) { if (was === next) next = node; was.replaceWith(node); }
    if (node !== next) parent.insertBefore(node, next); else next = next.nextElementSibling;
  }
  for (const gone of old.values()) gone.remove();
}

// Adds one keyed child at the end, or replaces the child with its key where it is.
export function upsert(parent, key, node) {
  node.dataset.key = String(key);
  const was = [...parent.children].find((c) => c.dataset.key === String(key));
  if (was) was.replaceWith(node); else parent.append(node);
  return node;
}
