// The agent app's entry: signing in and out, the theme, keyboard shortcuts, and the sections (the
// inbox at `#/` and `#/c/<id>`, settings at `#/settings/<screen>`). The parts of the screen are
// modules of their own; the state they share is in state.js.
import { $, el, warn } from "./dom.js";
import { t, translatePage } from "./i18n.js";
import { state } from "./state.js";
import { api, act } from "./api.js";
import { loadList, loadViews, showUnread } from "./list.js";
import { openThread } from "./thread.js";
import { setMode } from "./composer.js";
import { connect, disconnect, send } from "./realtime.js";
import { show as showSettings } from "./settings.js";
import { emptyState, iconButton } from "./ui.js";

const pickOne = () => emptyState("inbox", t("Pick a conversation."), t("Or press j and k to go through the list."));

export function showSignIn() {
  disconnect();
  state.lastSeq = null;
  state.current = null;
  $("#sign-in").hidden = false;
  for (const s of ["#inbox", "#settings", "#sign-out", "#top", "#notify"]) $(s).hidden = true;
}

// ---- Theme: the system's unless the agent picked one; kept in this browser.
function applyTheme() {
  const theme = localStorage.getItem("theme");
  if (theme) document.documentElement.dataset.theme = theme; else delete document.documentElement.dataset.theme;
}
$("#theme").addEventListener("click", () => {
  const dark = document.documentElement.dataset.theme ? document.documentElement.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  localStorage.setItem("theme", dark ? "light" : "dark");
  applyTheme();
});
applyTheme();

$("#notify").addEventListener("click", async () => {
  if ("Notification" in window) await Notification.requestPermission();
  $("#notify").hidden = !("Notification" in window) || Notification.permission !== "default";
});

// ---- Keyboard shortcuts, when the agent is not typing; `?` lists them.
const focusComposer = (mode) => { const b = $("#compose"); if (b) { setMode(mode); b.focus(); } };
const SHORTCUTS = [
  ["j", t("Next conversation"), () => step(1)],
  ["k", t("Previous conversation"), () => step(-1)],
  ["r", t("Write a reply"), () => focusComposer("reply")],
  ["n", t("Write a private note"), () => focusComposer("note")],
  ["a", t("Assign to me"), () => state.current && act(state.current, "assign", { assignee_id: state.me.id })],
  ["e", t("Resolve or reopen"), () => { const b = $("#status-action"); if (b) b.click(); }],
  ["s", t("Snooze"), () => { const s = $("#snooze"); if (s) s.click(); }],
  ["m", t("Run a macro"), () => { const m = $("#macros"); if (m) m.click(); }],
  ["l", t("Add a label"), () => { const l = $(".add-label input"); if (l) l.focus(); }],
  ["x", t("Select the conversation"), () => {
    const c = state.current && document.querySelector(`#list a[data-id="${state.current}"]`);
    const box = c && c.parentElement.querySelector("input[type=checkbox]");
    if (box) box.click();
  }],
  ["/", t("Find in the list"), () => $("#views button").focus()],
  ["?", t("Show these shortcuts"), () => toggleHelp()],
  ["Ctrl+Enter", t("Send the reply (in the composer)"), null],
];
function toggleHelp() { const d = $("#help"); if (d.open) d.close(); else d.showModal(); }
function step(by) {
  const rows = [...document.querySelectorAll("#list a[data-id]")];
  const at = rows.findIndex((r) => r.dataset.id === state.current);
  const next = rows[Math.min(rows.length - 1, Math.max(0, at + by))];
  if (next) openThread(next.dataset.id);
}
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || ["INPUT", "TEXTAREA", "SELECT"].includes(e.target.tagName)) return;
  const s = SHORTCUTS.find(([k, , f]) => k === e.key && f);
  if (s && !$("#inbox").hidden) { e.preventDefault(); s[2](); }
});

// ---- Sections.
function route() {
  const h = location.hash.replace(/^#/, "") || "/";
  const inSettings = h.startsWith("/settings");
  $("#inbox").hidden = inSettings;
  $("#settings").hidden = !inSettings;
  $("#to-inbox").setAttribute("aria-current", inSettings ? "false" : "page");
  $("#to-settings").setAttribute("aria-current", inSettings ? "page" : "false");
  if (inSettings) {
    if (state.current) { send({ type: "viewing", conversation_id: null }); state.current = null; }
    showSettings(h.split("/")[2] || "");
    return;
  }
  const m = /^\/c\/([0-9a-f-]{36})$/.exec(h);
  if (m && m[1] !== state.current) openThread(m[1]).catch(warn);
  if (!m && !state.current) {
    // Back from settings: no thread is open any more, so none is shown.
    $("#thread").replaceChildren(pickOne());
    $("#panel").replaceChildren();
    $("#inbox").classList.remove("reading");
  }
}
window.addEventListener("hashchange", route);

async function loadDirectory() {
  const [ib, tm, us, tp] = await Promise.all([api("/api/v1/inboxes"), api("/api/v1/teams"), api("/api/v1/users"), api("/api/v1/templates")]);
  [state.inboxes, state.teams, state.users, state.templates] = [ib.items || ib, tm.items || tm, us.items || us, tp.items];
}
// After settings change the directory: the views and the pickers read it again.
export async function reload() { await loadDirectory(); await loadViews(); }

async function start() {
  try {
    state.me = await api("/api/v1/me");
    $("#who").textContent = `${state.me.name} (${state.me.role})`;
    $("#sign-in").hidden = true;
    $("#sign-out").hidden = false;
    $("#top").hidden = false;
    $("#to-settings").hidden = false;
    $("#notify").hidden = !("Notification" in window) || Notification.permission !== "default";
    await loadDirectory();
    route();
    await Promise.all([loadViews(), loadList(), showUnread()]);
    connect();
  } catch (_) { showSignIn(); }
}

$("#sign-in").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const r = await fetch("/api/v1/auth/sign-in", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(Object.fromEntries(new FormData(form))) });
  const body = await r.json();
  if (!r.ok) { form.querySelector(".error").textContent = body.error.message; return; }
  state.csrf = body.csrf_token;
  localStorage.setItem("csrf", state.csrf);
  start();
});
$("#sign-out").addEventListener("click", async () => { await api("/api/v1/auth/sign-out", { method: "POST" }); showSignIn(); });
$("#theme").before(iconButton("keyboard", t("Keyboard shortcuts"), { id: "show-help", class: "quiet", shortcut: "?", onclick: toggleHelp }));
$("#thread").replaceChildren(pickOne());
$("#shortcuts").replaceChildren(...SHORTCUTS.flatMap(([k, what]) => [el("dt", {}, k), el("dd", {}, what)]));
translatePage();
start();
