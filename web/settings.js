// Settings for admins (and what supervisors may see). Every screen is one entry of SCREENS: its
// key (the address is #/settings/<key>), title, the roles that may open it, and render(body), which
// fills the screen from the API. A new capability adds its screen by adding an entry.
import { el } from "./dom.js";
import { state } from "./state.js";
import { inboxes, widget } from "./settings-channels.js";
import { agents, bots, teams, lists } from "./settings-people.js";
import { hours, autoReplies } from "./settings-hours.js";
import { templates } from "./settings-templates.js";
import { rules } from "./settings-rules.js";
import { macros } from "./settings-macros.js";
import { testCustomer } from "./test-customer.js";
import { sla, survey, compliance, consent, retention, encryption, audit, exports, tokens } from "./settings-workspace.js";

const SCREENS = [inboxes, agents, bots, teams, lists, templates, rules, macros, sla, hours, autoReplies, survey, compliance, consent, retention, encryption, audit, exports, tokens, widget, testCustomer];

// Shows a screen (the first the user may open when `key` is unknown).
export async function show(key) {
  const role = state.me && state.me.role;
  const allowed = SCREENS.filter((s) => s.roles.includes(role));
  const s = allowed.find((x) => x.key === key) || allowed[0];
  document.querySelector("#settings-nav").replaceChildren(...allowed.map((x) => el("li", {},
    el("a", { href: `#/settings/${x.key}`, "aria-current": x === s ? "page" : "false" }, x.title))));
  if (!s) return;
  const body = document.querySelector("#settings-body");
  body.replaceChildren(el("h2", { id: "settings-title" }, s.title));
  try { await s.render(body); } catch (err) { body.append(el("p", { class: "error" }, err.message)); }
}
