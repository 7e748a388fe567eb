// The translation table: every word the app shows goes through t(). The English text is the key
// and `{name}` marks a value to put in; a translation is the same keys in another language, set as
// window.PARLEY_STRINGS before the app loads. `parley-locale=pseudo` brackets every translated string.
const STRINGS = window.PARLEY_STRINGS || {};
const PSEUDO = localStorage.getItem("parley-locale") === "pseudo";

export function t(text, vars) {
  let out = STRINGS[text] || text;
  if (vars) out = out.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return PSEUDO ? `⟦${out}⟧` : out;
}

// What the app says in several places, translated once.
export const T = {
  mine: t("Mine"), unassigned: t("Unassigned"), open: t("All open"), pending: t("Pending"), snoozed: t("Snoozed"),
  resolved: t("Resolved"), customer: t("Customer"), waiting: t("waiting"), nobody: t("unassigned"),
  viewing: (names) => t(names.includes(",") ? "{names} are also viewing this conversation" : "{names} is also viewing this conversation", { names }),
  typing: (name) => t("{name} is typing…", { name }),
  agentTyping: (name) => t("{name} is typing a reply here — check before you answer", { name }),
  assigned: t("assigned to you"), mentioned: t("mentioned you"), wrote: t("wrote"),
  noConsent: t("No consent recorded."), selected: (n) => t("{n} selected", { n }),
};

// The page's own words (index.html marks them with data-t, naming any attributes to translate too).
export function translatePage() {
  for (const e of document.querySelectorAll("[data-t]")) {
    for (const n of e.childNodes) if (n.nodeType === 3 && n.textContent.trim()) n.textContent = n.textContent.replace(n.textContent.trim(), t(n.textContent.trim()));
    for (const a of e.dataset.t.split(" ").filter(Boolean)) e.setAttribute(a, t(e.getAttribute(a)));
  }
}
