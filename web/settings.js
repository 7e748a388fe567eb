// Settings for admins (and what supervisors may see). Every screen is one entry of SCREENS: its
// key (the address is #/settings/<key>), title, the roles that may open it, and render(body), which
// fills the screen from the API. A new capability adds its screen by adding an entry.
(() => {
  const { api, el, toast, when } = window.Parley;
  const SCREENS = [];
  const screen = (s) => SCREENS.push(s);

  // ---- Small building blocks every screen uses.
  function table(headers, rows) {
    return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))));
  }
  // A form of labelled inputs: [name, label, {type, value, options, required, placeholder}].
  function form(id, fields, submit, onsubmit) {
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
  function copyable(id, text) {
    const box = el("input", { id, readonly: true, value: text, "aria-label": "Copy this", size: "50" });
    return el("span", { class: "copy" }, box, el("button", { type: "button", class: "secondary", onclick: () => { box.select(); navigator.clipboard && navigator.clipboard.writeText(text); toast("Copied"); } }, "Copy"));
  }
  // An editor for a JSON settings document: text, numbers, switches and comma-separated lists.
  function jsonFields(value, path = []) {
    return Object.entries(value).map(([k, v]) => {
      const name = [...path, k].join(".");
      const label = k.replace(/_/g, " ");
      if (v && typeof v === "object" && !Array.isArray(v)) return el("fieldset", {}, el("legend", {}, label), ...jsonFields(v, [...path, k]));
      if (typeof v === "boolean") return el("label", { class: "inline" }, el("input", { type: "checkbox", name, "data-kind": "bool", checked: v }), label);
      if (typeof v === "number") return el("label", {}, label, el("input", { type: "number", name, "data-kind": "number", value: String(v), min: "0" }));
      if (Array.isArray(v)) return el("label", {}, `${label} (comma-separated)`, el("input", { name, "data-kind": "list", value: v.join(", ") }));
      return el("label", {}, label, String(v).length > 60 || /text|confirmation/.test(k)
        ? el("textarea", { name, rows: "2" }, v || "") : el("input", { name, value: v == null ? "" : String(v) }));
    });
  }
  function readJson(formEl, template) {
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

  // ---- Inboxes: the channels, their credentials, test connection, webhook URL, members.
  const KINDS = {
    twilio: ["SMS / MMS (Twilio)", [["account_sid", "Account SID", { required: true, placeholder: "AC…" }], ["auth_token", "Auth token", { type: "password", required: true }], ["from", "Sending number or Messaging Service SID", { required: true, placeholder: "+15017122661" }]]],
    whatsapp: ["WhatsApp (Cloud API)", [["phone_number_id", "Phone number ID", { required: true }], ["access_token", "Access token", { type: "password", required: true }], ["app_secret", "App secret", { type: "password", required: true }]]],
    messenger: ["Messenger", [["page_id", "Page ID", { required: true }], ["access_token", "Page access token", { type: "password", required: true }], ["app_secret", "App secret", { type: "password", required: true }]]],
    instagram: ["Instagram", [["page_id", "Page or account ID", { required: true }], ["access_token", "Access token", { type: "password", required: true }], ["app_secret", "App secret", { type: "password", required: true }]]],
    telegram: ["Telegram", [["bot_token", "Bot token", { type: "password", required: true }]]],
    line: ["LINE", [["channel_secret", "Channel secret", { type: "password", required: true }], ["access_token", "Channel access token", { type: "password", required: true }]]],
    widget: ["Website chat", [["website_url", "Website address", { placeholder: "https://www.example.com" }], ["greeting", "Greeting"], ["color", "Colour", { type: "color", value: "#0b5cad" }]]],
    email: ["Email", [["address", "Support address", { required: true }], ["from_name", "Sender name"], ["smtp.host", "SMTP host", { required: true }], ["smtp.port", "SMTP port", { type: "number", placeholder: "587" }], ["smtp.username", "SMTP username"], ["smtp.password", "SMTP password", { type: "password" }], ["imap.host", "IMAP host"], ["imap.username", "IMAP username"], ["imap.password", "IMAP password", { type: "password" }]]],
    api: ["API (your own system)", [["callback_url", "Callback URL for replies", { placeholder: "https://example.com/parley" }]]],
  };
  screen({ key: "inboxes", title: "Inboxes", roles: ["admin"], render: async (body) => {
    const [list, users] = [(await api("/api/v1/inboxes")).items, window.Parley.users];
    const rows = await Promise.all(list.map(async (i) => {
      const members = (await api(`/api/v1/inboxes/${i.id}/members`)).items || [];
      const result = el("span", { class: "result", role: "status" });
      const test = ["twilio", "whatsapp", "messenger", "instagram", "telegram", "line", "email"].includes(i.kind)
        ? el("button", { type: "button", class: "secondary", "data-test": i.id, onclick: async () => {
          result.textContent = "Asking…";
          try { const r = await api(`/api/v1/inboxes/${i.id}/test`, { method: "POST", body: "{}" }); result.className = r.ok ? "result ok" : "result error"; result.textContent = r.detail; } catch (err) { result.className = "result error"; result.textContent = err.message; }
        } }, "Test connection") : null;
      const who = el("details", {}, el("summary", {}, `${members.length} member${members.length === 1 ? "" : "s"}`),
        ...users.filter((u) => u.role !== "admin").map((u) => el("label", { class: "inline" }, el("input", { type: "checkbox", checked: members.some((m) => m.id === u.id),
          onchange: async (e) => { try { await api(`/api/v1/inboxes/${i.id}/members/${u.id}`, { method: e.target.checked ? "PUT" : "DELETE" }); toast(`${u.name} ${e.target.checked ? "added to" : "taken off"} ${i.name}`); } catch (err) { toast(err.message, "warning"); } } }), u.name)));
      // What the provider's console needs besides the URL: Meta's verify token, or the API
      // channel's signing secret.
      const extra = i.verify_token ? el("div", {}, el("span", { class: "muted small" }, "Verify token "), copyable(`verify-${i.id}`, i.verify_token))
        : i.kind === "api" && i.secret ? el("div", {}, el("span", { class: "muted small" }, "Signing secret "), copyable(`secret-${i.id}`, i.secret)) : null;
      // Renaming, the sending rate and the API channel's callback; credentials are set when the
      // inbox is added (add a new one to change them).
      const settings = i.settings || {};
      const edit = el("details", {}, el("summary", {}, "Edit"), form(`edit-${i.id}`, [
        ["name", "Name", { value: i.name, required: true }],
        ["rate_limit", "Messages per second (empty: no limit)", { type: "number", value: settings.rate_limit == null ? "" : String(settings.rate_limit), clearable: true }],
        ...(i.kind === "api" ? [["callback_url", "Callback URL", { value: settings.callback_url || "" }]] : []),
      ], "Save", async (v) => {
        const patch = { ...v, rate_limit: v.rate_limit === "" || v.rate_limit === undefined ? null : Number(v.rate_limit) };
        await api(`/api/v1/inboxes/${i.id}`, { method: "PATCH", body: JSON.stringify(patch) });
        await window.Parley.reload();
        toast("Saved");
        show("inboxes");
      }));
      return [el("div", {}, el("strong", {}, i.name), edit), window.Parley.ICONS[i.kind] || i.kind,
        i.webhook_url ? el("div", {}, copyable(`hook-${i.id}`, i.webhook_url), extra) : i.snippet ? el("span", { class: "muted" }, "See Website chat") : el("span", { class: "muted" }, "—"),
        el("span", {}, test, " ", result), who];
    }));
    const kind = el("select", { id: "new-kind", "aria-label": "Channel" }, ...Object.entries(KINDS).map(([k, [t]]) => el("option", { value: k }, t)));
    const holder = el("div");
    const draw = () => {
      const fields = [["name", "Name", { required: true }], ...KINDS[kind.value][1], ["api_base_url", "Provider API address (leave empty for the real one)", { placeholder: "https://…", hidden: ["widget", "email", "api"].includes(kind.value) }]];
      holder.replaceChildren(form("new-inbox", fields, "Add inbox", async (v, out) => {
        const req = { kind: kind.value };
        for (const [k, val] of Object.entries(v)) {
          const [a, b] = k.split(".");
          if (b) { req[a] = req[a] || {}; req[a][b] = b === "port" ? Number(val) : val; } else req[a] = val;
        }
        const made = await api("/api/v1/inboxes", { method: "POST", body: JSON.stringify(req) });
        await window.Parley.reload();
        await show("inboxes");
        const hook = made.webhook_url ? ` Paste its webhook URL (in the table) into the provider's console.` : "";
        toast(`Inbox ${made.name} added.${hook}`);
      }));
    };
    kind.addEventListener("change", draw);
    draw();
    body.append(
      table(["Inbox", "Channel", "Webhook URL", "Connection", "Agents"], rows),
      el("h3", {}, "Add an inbox"), el("label", {}, "Channel", kind), holder);
  } });

  // ---- Agents: roles, and who works which inbox is on Inboxes.
  screen({ key: "agents", title: "Agents and roles", roles: ["admin"], render: async (body) => {
    const list = (await api("/api/v1/users")).items;
    const roles = [["agent", "Agent"], ["supervisor", "Supervisor"], ["admin", "Admin"]];
    body.append(
      table(["Name", "Email", "Role", ""], list.map((u) => [u.name, u.email,
        el("select", { "aria-label": `Role of ${u.name}`, onchange: async (e) => { try { await api(`/api/v1/users/${u.id}`, { method: "PATCH", body: JSON.stringify({ role: e.target.value }) }); toast("Role changed"); } catch (err) { toast(err.message, "warning"); } } },
          ...roles.map(([v, t]) => el("option", { value: v, selected: v === u.role }, t))),
        u.id === window.Parley.me.id ? "" : el("button", { type: "button", class: "secondary", onclick: async () => { if (confirm(`Remove ${u.name}?`)) { try { await api(`/api/v1/users/${u.id}`, { method: "DELETE" }); show("agents"); } catch (err) { toast(err.message, "warning"); } } } }, "Remove")])),
      el("h3", {}, "Add someone"),
      form("new-user", [["name", "Name", { required: true }], ["email", "Email", { type: "email", required: true }], ["password", "First password (12+ characters)", { type: "password", required: true }], ["role", "Role", { options: roles, value: "agent" }]], "Add", async (v) => {
        await api("/api/v1/users", { method: "POST", body: JSON.stringify(v) });
        await window.Parley.reload(); show("agents"); toast(`${v.name} can sign in now`);
      }));
  } });

  screen({ key: "teams", title: "Teams", roles: ["admin"], render: async (body) => {
    const list = (await api("/api/v1/teams")).items;
    const users = window.Parley.users;
    body.append(
      table(["Team", "Members", ""], list.map((t) => [t.name,
        el("div", {}, ...users.map((u) => el("label", { class: "inline" }, el("input", { type: "checkbox", checked: (t.members || []).some((m) => (m.id || m) === u.id),
          onchange: async (e) => { try { await api(`/api/v1/teams/${t.id}/members/${u.id}`, { method: e.target.checked ? "PUT" : "DELETE" }); } catch (err) { e.target.checked = !e.target.checked; toast(err.message, "warning"); } } }), u.name))),
        el("button", { type: "button", class: "secondary", onclick: async () => { if (confirm(`Delete ${t.name}?`)) { try { await api(`/api/v1/teams/${t.id}`, { method: "DELETE" }); await window.Parley.reload(); show("teams"); } catch (err) { toast(err.message, "warning"); } } } }, "Delete")])),
      form("new-team", [["name", "New team", { required: true }]], "Create", async (v) => {
        await api("/api/v1/teams", { method: "POST", body: JSON.stringify(v) }); await window.Parley.reload(); show("teams");
      }));
  } });

  screen({ key: "replies", title: "Saved replies", roles: ["admin"], render: async (body) => {
    const items = (await api("/api/v1/replies")).items;
    const put = async (next) => { await api("/api/v1/replies", { method: "PUT", body: JSON.stringify({ items: next }) }); await window.Parley.reload(); show("replies"); };
    body.append(
      el("p", { class: "muted" }, "Agents insert these by typing / and the shortcut in the composer, or from its Saved replies menu."),
      table(["Shortcut", "Text", ""], items.map((r, i) => [`/${r.shortcut}`, r.body,
        el("button", { type: "button", class: "secondary", onclick: () => put(items.filter((_, j) => j !== i)) }, "Remove")])),
      form("new-reply", [["shortcut", "Shortcut", { required: true, placeholder: "thanks" }], ["body", "Text", { type: "textarea" }]], "Add", (v) => put([...items, { shortcut: v.shortcut, body: v.body || "" }])));
  } });

  screen({ key: "compliance", title: "Compliance", roles: ["admin"], render: async (body) => {
    const { settings, texts } = await api("/api/v1/compliance/settings");
    const f = el("form", { id: "compliance", class: "stack" }, ...jsonFields(settings), el("button", {}, "Save"), el("p", { class: "result", role: "status" }));
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      try { await api("/api/v1/compliance/settings", { method: "PUT", body: JSON.stringify(readJson(f, settings)) }); toast("Saved"); show("compliance"); } catch (err) { f.querySelector(".result").className = "result error"; f.querySelector(".result").textContent = err.message; }
    });
    body.append(el("h3", {}, "What customers receive"), el("dl", {}, ...Object.entries(texts).flatMap(([k, v]) => [el("dt", {}, k.replace(/_/g, " ")), el("dd", {}, v)])),
      el("h3", {}, "Rules"), f);
  } });

  screen({ key: "consent", title: "Consent records", roles: ["admin"], render: async (body) => {
    const out = el("div", { id: "consent-results" });
    body.append(form("find-consent", [["q", "Find a contact (name, phone or email)", { required: true }]], "Find", async (v) => {
      const found = (await api(`/api/v1/contacts?q=${encodeURIComponent(v.q)}`)).items;
      out.replaceChildren(...await Promise.all(found.slice(0, 10).map(async (c) => el("section", { class: "card" },
        el("h3", {}, c.name || c.phone || c.email || c.id),
        window.Parley.consentView(await api(`/api/v1/contacts/${c.id}/consent`)),
        el("a", { href: `/api/v1/contacts/${c.id}/consent/export?format=csv` }, "Export (CSV)"), " ",
        el("a", { href: `/api/v1/contacts/${c.id}/consent/export?format=json` }, "Export (JSON)")))));
      if (!found.length) out.textContent = "Nobody found.";
    }), out);
  } });

  screen({ key: "retention", title: "Retention", roles: ["admin"], render: async (body) => {
    const r = await api("/api/v1/retention");
    body.append(
      el("p", {}, r.retention_days ? `Message bodies and files are deleted ${r.retention_days} days after they were written.` : "Messages are kept until they are deleted or their contact is erased."),
      r.retention_days ? el("p", {}, `The next hourly run empties ${r.next.messages} message${r.next.messages === 1 ? "" : "s"}${r.next.oldest ? `, the oldest from ${when(r.next.oldest)}` : ""}.`) : null,
      el("p", { class: "muted" }, "Change the period under Compliance (retention days)."));
  } });

  screen({ key: "encryption", title: "Encryption", roles: ["admin"], render: async (body) => {
    const e = await api("/api/v1/encryption");
    body.append(el("p", { id: "encryption-state" }, e.enabled
      ? `Encryption at rest is on: names, addresses, messages, notes, files and credentials are sealed under data key ${e.current_key} (keys in use: ${e.data_keys.join(", ")}).`
      : "Encryption at rest is off. Start the server with a master key (parley keys generate, then --master-key-file) and run parley keys encrypt."),
    el("p", { class: "muted" }, "Rotate the data key with parley keys rotate; wrap the keys under a new master key with parley keys rewrap."));
  } });

  screen({ key: "audit", title: "Audit log", roles: ["admin"], render: async (body) => {
    const items = (await api("/api/v1/audit?limit=200")).items;
    const users = window.Parley.users;
    body.append(
      el("p", {}, el("a", { href: "/api/v1/audit/export?format=csv" }, "Export all (CSV)"), " · ", el("a", { href: "/api/v1/audit/export?format=json" }, "Export all (JSON)")),
      table(["When", "Who", "What", "Target", "From"], items.map((a) => [when(a.at), (users.find((u) => u.id === a.actor_id) || {}).name || a.actor_id || "Parley", a.action, a.target, a.ip || ""])));
  } });

  screen({ key: "exports", title: "Exports", roles: ["admin"], render: async (body) => {
    const day = (d) => d.toISOString().slice(0, 10);
    const out = el("p");
    body.append(el("p", { class: "muted" }, "Every conversation active in the range, with its entries in the range."),
      form("export", [["from", "From", { type: "date", value: day(new Date(Date.now() - 30 * 86400e3)), required: true }], ["to", "To", { type: "date", value: day(new Date(Date.now() + 86400e3)), required: true }], ["format", "Format", { options: [["csv", "CSV"], ["json", "JSON"]], value: "csv" }]], "Prepare link", async (v) => {
        const href = `/api/v1/exports/conversations?from=${new Date(v.from).toISOString()}&to=${new Date(v.to).toISOString()}&format=${v.format}`;
        out.replaceChildren(el("a", { href, id: "export-link" }, "Download the export"));
      }), out);
  } });

  screen({ key: "tokens", title: "API tokens", roles: ["admin", "supervisor", "agent"], render: async (body) => {
    const items = (await api("/api/v1/tokens")).items.filter((t) => !t.revoked_at);
    const shown = el("div");
    body.append(
      el("p", { class: "muted" }, "Personal tokens act as you in the API (Authorization: Bearer …)."),
      table(["Name", "Created", ""], items.map((t) => [t.name, when(t.created_at),
        el("button", { type: "button", class: "secondary", onclick: async () => { try { await api(`/api/v1/tokens/${t.id}`, { method: "DELETE" }); show("tokens"); } catch (err) { toast(err.message, "warning"); } } }, "Revoke")])),
      form("new-token", [["name", "Name", { required: true }]], "Create token", async (v) => {
        const t = await api("/api/v1/tokens", { method: "POST", body: JSON.stringify(v) });
        await show("tokens");
        $body().prepend(el("div", { class: "card" }, el("p", {}, "Copy the token now; it is not shown again."), copyable("token-value", t.token)));
      }), shown);
  } });

  screen({ key: "widget", title: "Website chat", roles: ["admin"], render: async (body) => {
    const widgets = (await api("/api/v1/inboxes")).items.filter((i) => i.kind === "widget");
    if (!widgets.length) body.append(el("p", {}, "No website chat yet: add an inbox of channel Website chat under Inboxes."));
    for (const w of widgets) {
      const s = w.settings || {};
      body.append(el("section", { class: "card" }, el("h3", {}, w.name),
        el("p", {}, "Paste this before </body> on every page of your site:"), copyable(`snippet-${w.id}`, w.snippet || ""),
        form(`widget-${w.id}`, [["website_url", "Website address", { value: s.website_origin || "", clearable: true }], ["greeting", "Greeting", { value: s.greeting || "", clearable: true }], ["color", "Colour", { type: "color", value: s.color || "#0b5cad" }], ["prechat_fields", "Ask before the chat (comma-separated: name, email, phone)", { value: (s.prechat_fields || []).join(", ") }]], "Save", async (v) => {
          const patch = { ...v, prechat_fields: (v.prechat_fields || "").split(",").map((x) => x.trim()).filter(Boolean) };
          await api(`/api/v1/inboxes/${w.id}`, { method: "PATCH", body: JSON.stringify(patch) });
          toast("Saved");
        })));
    }
  } });

  const $body = () => document.querySelector("#settings-body");
  // Shows a screen (the first the user may open when `key` is unknown).
  async function show(key) {
    const role = window.Parley.me && window.Parley.me.role;
    const allowed = SCREENS.filter((s) => s.roles.includes(role));
    const s = allowed.find((x) => x.key === key) || allowed[0];
    document.querySelector("#settings-nav").replaceChildren(...allowed.map((x) => el("li", {},
      el("a", { href: `#/settings/${x.key}`, "aria-current": x === s ? "page" : "false" }, x.title))));
    if (!s) return;
    const body = $body();
    body.replaceChildren(el("h2", { id: "settings-title" }, s.title));
    try { await s.render(body); } catch (err) { body.append(el("p", { class: "error" }, err.message)); }
  }
  window.ParleySettings = { show, screen };
  if (location.hash.startsWith("#/settings") && window.Parley.me) show(location.hash.split("/")[2] || "");
})();
