// The shared element builder and the small formatting helpers every part of the screen uses:
// `el` builds elements from attributes and children, `ago` and `when` show times, `toast` speaks.
export const $ = (s) => document.querySelector(s);

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

export function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export const when = (iso) => iso ? new Date(iso).toLocaleString() : "";

// A short message that goes away by itself; also read out by screen readers (#toasts is a live region).
export function toast(text, kind = "info") {
  const p = el("p", { class: `toast ${kind}` }, text);
  $("#toasts").append(p);
  setTimeout(() => p.remove(), 6000);
}
export const warn = (err) => toast(err.message, "warning");
