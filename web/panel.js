// The right column: who the customer is across channels, their name and fields, the lists they
// are on, consent per purpose with its ledger, their other conversations, merging and blocking.
import { $, el, when, toast, warn } from "./dom.js";
import { t, T } from "./i18n.js";
import { state, channelOf, ICONS } from "./state.js";
import { api } from "./api.js";
import { keepDraft } from "./composer.js";
import { openThread } from "./thread.js";
import { avatar, confirmDialog } from "./ui.js";

// The channel the contact first reached us on, as their avatar's badge.
function channelBadge(contact) {
  const first = contact.identities[0];
  return first ? { kind: first.kind, label: ICONS[first.kind] || first.kind } : null;
}

export async function showPanel(conv) {
  const panel = $("#panel");
  const [contact, consent, convs, onLists, allLists] = await Promise.all([
    api(`/api/v1/contacts/${conv.contact_id}`),
    api(`/api/v1/contacts/${conv.contact_id}/consent`),
    api(`/api/v1/contacts/${conv.contact_id}/conversations`),
    api(`/api/v1/contacts/${conv.contact_id}/lists`),
    api("/api/v1/lists"),
  ]);
  if (conv.id !== state.current) return;
  const name = el("input", { id: "contact-name", "aria-label": t("Name"), value: contact.name || "" });
  panel.replaceChildren(
    el("h2", { class: "who" }, avatar(contact.name || T.customer, channelBadge(contact)), contact.name || T.customer),
    el("form", { class: "stack", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api(`/api/v1/contacts/${contact.id}`, { method: "PATCH", body: JSON.stringify({ name: name.value.trim() || null }) });
        toast(t("Saved"));
      } catch (err) { toast(err.message, "warning"); }
    } }, el("label", {}, t("Name"), name), el("button", { class: "secondary" }, t("Save name"))),
    el("h3", {}, t("On each channel")),
    el("ul", { id: "identities", class: "plain" }, ...contact.identities.map((i) => el("li", {}, el("span", { class: "muted" }, `${i.kind}: `), i.external_id))),
    el("h3", {}, t("Fields")),
    fieldsForm(contact),
    el("h3", {}, t("Lists")),
    listsView(contact, onLists.items, allLists.items),
    el("h3", {}, t("Consent")),
    consentView(consent),
    el("h3", {}, t("Conversations")),
    el("ul", { id: "history", class: "plain" }, ...(convs.items || convs).map((c) => el("li", {},
      el("a", { href: `#/c/${c.id}`, "aria-current": c.id === conv.id ? "true" : "false" }, `${channelOf(c.inbox_id)} · ${c.status}`),
      el("span", { class: "muted small" }, ` ${when(c.last_activity_at || c.created_at)}`)))),
    el("h3", {}, t("Merge")),
    mergeForm(contact),
    blockView(contact, conv));
}

// The contact's custom fields, each editable and removable, and a new one.
function fieldsForm(contact) {
  const fields = el("dl", { class: "fields" });
  const draw = () => fields.replaceChildren(...Object.entries(contact.custom_fields).flatMap(([k, v]) => [
    el("dt", {}, k),
    el("dd", {}, el("input", { "aria-label": k, value: typeof v === "string" ? v : JSON.stringify(v), "data-field": k }),
      el("button", { type: "button", class: "quiet", "aria-label": t("Remove {field}", { field: k }), onclick: () => save({ [k]: null }) }, "×")),
  ]));
  const save = async (patch) => {
    try {
      const c = await api(`/api/v1/contacts/${contact.id}`, { method: "PATCH", body: JSON.stringify({ custom_fields: patch }) });
      contact.custom_fields = c.custom_fields; draw(); toast(t("Saved"));
    } catch (err) { toast(err.message, "warning"); }
  };
  draw();
  const newKey = el("input", { "aria-label": t("New field name"), placeholder: t("field"), size: "8" });
  const newValue = el("input", { "aria-label": t("New field value"), placeholder: t("value"), size: "10" });
  return el("form", { id: "fields", onsubmit: (e) => {
    e.preventDefault();
    // Only what changed is sent, so a number or a list nobody touched keeps its type.
    const patch = {};
    for (const input of fields.querySelectorAll("input[data-field]")) {
      const was = contact.custom_fields[input.dataset.field];
      const shown = typeof was === "string" ? was : JSON.stringify(was);
      if (input.value === shown) continue;
      let value = input.value;
      if (typeof was !== "string") { try { value = JSON.parse(input.value); } catch (_) { /* kept as text */ } }
      patch[input.dataset.field] = value;
    }
    if (newKey.value.trim()) patch[newKey.value.trim()] = newValue.value;
    newKey.value = ""; newValue.value = "";
    save(patch);
  } }, fields, el("div", { class: "actions" }, newKey, newValue), el("button", { class: "secondary" }, t("Save fields")));
}

// The lists the contact is on; any agent puts them on another or takes them off.
function listsView(contact, on, all) {
  const box = el("div", { id: "lists" });
  const change = async (list, method) => {
    try {
      await api(`/api/v1/lists/${list.id}/contacts/${contact.id}`, { method });
      on = method === "PUT" ? [...on, list].sort((a, b) => (a.name < b.name ? -1 : 1)) : on.filter((l) => l.id !== list.id);
      draw();
      toast(t(method === "PUT" ? "Added to {list}" : "Taken off {list}", { list: list.name }));
    } catch (err) { toast(err.message, "warning"); }
  };
  const draw = () => {
    const others = all.filter((l) => !on.some((o) => o.id === l.id));
    const pick = el("select", { "aria-label": t("List to add to") }, ...others.map((l) => el("option", { value: l.id }, l.name)));
    box.replaceChildren(...[
      on.length ? el("div", { class: "actions" }, ...on.map((l) => el("span", { class: "chip" }, l.name, " ",
        el("button", { type: "button", class: "quiet", "aria-label": t("Take off {list}", { list: l.name }), onclick: () => change(l, "DELETE") }, "×"))))
        : el("p", { class: "muted" }, t("On no list.")),
      others.length ? el("div", { class: "actions" }, pick,
        el("button", { type: "button", class: "secondary", onclick: () => change(others.find((l) => l.id === pick.value), "PUT") }, t("Add to list"))) : null,
    ].filter(Boolean));
  };
  draw();
  return box;
}

// Consent now, per purpose, and the ledger behind it (newest first).
export function consentView(consent) {
  const entries = consent.history || [];
  const optOuts = consent.opted_out || [];
  const review = consent.probable_revocation;
  // Where each purpose stands, as the gate sees it, channel by channel: "revoked on every
  // channel", or each state with the channels in it.
  const states = consent.states || {};
  const channels = Object.keys(states);
  const purposes = channels.length ? Object.keys(states[channels[0]]) : [];
  const lines = purposes.flatMap((p) => {
    const by = {};
    for (const c of channels) (by[states[c][p]] = by[states[c][p]] || []).push(c);
    const known = Object.entries(by).filter(([st]) => st !== "unknown");
    if (!known.length) return [];
    const text = known.length === 1 && known[0][1].length === channels.length ? t("{state} on every channel", { state: t(known[0][0]) })
      : known.map(([st, cs]) => t("{state} on {channels}", { state: t(st), channels: cs.join(", ") })).join("; ");
    return [el("li", {}, el("strong", {}, t(p)), `: ${text}`)];
  });
  return el("div", { id: "consent" },
    lines.length ? el("ul", { class: "plain" }, ...lines) : el("p", { class: "muted" }, T.noConsent),
    optOuts.length ? el("p", { class: "warning" }, t("Opted out on: {channels}", { channels: optOuts.join(", ") })) : null,
    review ? el("p", { class: "warning" }, t("Possibly an opt-out, to review: “{text}” ({time})", { text: review.text, time: when(review.at) })) : null,
    entries.length ? el("details", { id: "consent-history" }, el("summary", {}, t("History ({n})", { n: entries.length })),
      el("ol", { class: "plain" }, ...[...entries].sort((a, b) => (a.at < b.at ? 1 : -1)).map((e) => el("li", {},
        el("time", { datetime: e.at }, when(e.at)), ` ${e.purpose} ${e.action} · ${e.source}${e.channel ? " · " + e.channel : ""}`,
        evidence(e.evidence))))) : null);
}

// What a consent entry rests on, briefly: the customer's words, or the fields recorded with it.
function evidence(ev) {
  if (!ev || !Object.keys(ev).length) return null;
  const text = ev.text ? `“${ev.text}”` : Object.entries(ev).filter(([k]) => !k.endsWith("_id")).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ");
  return text ? el("span", { class: "muted small" }, ` ${text}`) : null;
}

// Blocking (supervisors and admins): their messages are kept, and an opt-out in them still counts,
// but they stop reopening conversations or waiting for an answer.
function blockView(contact, conv) {
  if (state.me.role === "agent") return contact.blocked_at ? el("p", { class: "warning" }, t("Blocked since {time}", { time: when(contact.blocked_at) })) : null;
  const blocked = !!contact.blocked_at;
  return el("div", { class: "stack" },
    blocked ? el("p", { id: "blocked", class: "warning" }, t("Blocked since {time}: their messages no longer reopen conversations.", { time: when(contact.blocked_at) })) : null,
    el("button", { type: "button", id: "block", class: "secondary", onclick: async () => {
      const ask = t("Block {name}? Their messages are kept but no longer reopen conversations, and their open conversations are resolved.", { name: contact.name || t("this contact") });
      if (!blocked && !await confirmDialog(ask, { confirm: t("Block"), danger: true })) return;
      try {
        await api(`/api/v1/contacts/${contact.id}/block`, { method: blocked ? "DELETE" : "POST" });
        toast(blocked ? t("Unblocked") : t("Blocked"));
        showPanel(await api(`/api/v1/conversations/${conv.id}`));
      } catch (err) { warn(err); }
    } }, blocked ? t("Unblock") : t("Block")));
}

function mergeForm(contact) {
  const q = el("input", { type: "search", "aria-label": t("Find a contact to merge into this one"), placeholder: t("name, phone or email") });
  const found = el("ul", { class: "plain" });
  return el("form", { onsubmit: async (e) => {
    e.preventDefault();
    const r = await api(`/api/v1/contacts?q=${encodeURIComponent(q.value)}`);
    found.replaceChildren(...(r.items || []).filter((c) => c.id !== contact.id).slice(0, 5).map((c) => el("li", {},
      `${c.name || c.phone || c.email || c.id} `,
      el("button", { type: "button", class: "secondary", onclick: async () => {
        const ask = t("Merge {other} into {name}? Their channels and conversations move here.", { other: c.name || t("this contact"), name: contact.name || t("this contact") });
        if (!await confirmDialog(ask, { confirm: t("Merge") })) return;
        try {
          keepDraft();
          await api(`/api/v1/contacts/${contact.id}/merge`, { method: "POST", body: JSON.stringify({ contact_id: c.id }) });
          toast(t("Merged"));
          if (state.current) openThread(state.current, true);
        } catch (err) { toast(err.message, "warning"); }
      } }, t("Merge here")))));
  } }, q, el("button", { class: "secondary" }, t("Find")), found);
}

