// Parley's website chat widget. A business adds one tag to its pages:
//   <script src="https://parley.example/widget.js" data-inbox="INBOX-ID" async></script>
// It draws a launcher and a chat panel in a shadow root (the site's styles cannot reach it, nor
// its styles the site), talks to Parley over one WebSocket, and keeps the visitor's signed token
// in localStorage so the thread survives page loads. No third-party code.
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script || !script.dataset.inbox) return;
  const inbox = script.dataset.inbox;
  const base = new URL(script.src, location.href);
  const socketUrl = (token) => {
    const u = new URL(`/widget/${encodeURIComponent(inbox)}/socket`, base);
    u.protocol = base.protocol === "https:" ? "wss:" : "ws:";
    if (token) u.searchParams.set("token", token);
    return u.toString();
  };
  const tokenKey = `parley:${inbox}:token`;
  const store = {
    get() { try { return localStorage.getItem(tokenKey); } catch (_) { return null; } },
    set(v) { try { localStorage.setItem(tokenKey, v); } catch (_) { /* private mode */ } },
  };

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  const host = el("parley-chat", { "data-inbox": inbox });
  const root = host.attachShadow({ mode: "open" });
  root.append(el("link", { rel: "stylesheet", href: new URL("/widget.css", base).toString() }));

  const launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "parley-panel", "aria-label": "Chat with us" }, "Chat");
  const title = el("h2", { class: "title" }, "Chat");
  const status = el("p", { class: "status", role: "status" }, "Connecting…");
  const close = el("button", { class: "close", type: "button", "aria-label": "Close the chat" }, "×");
  const log = el("ol", { class: "log", "aria-live": "polite", "aria-label": "Messages" });
  const typing = el("p", { class: "typing", hidden: true });
  const input = el("textarea", { class: "input", rows: "2", "aria-label": "Your message", placeholder: "Write a message…", maxlength: "20000" });
  const send = el("button", { class: "send", type: "submit" }, "Send");
  const composer = el("form", { class: "composer" }, input, send);
  const errorLine = el("p", { class: "error", role: "alert", hidden: true });
  const prechat = el("form", { class: "prechat", hidden: true });
  const follow = el("form", { class: "follow", hidden: true });
  const followToggle = el("button", { class: "link", type: "button" }, "Get replies by email or text");
  const panel = el("section", { class: "panel", id: "parley-panel", hidden: true, "aria-label": "Chat" },
    el("header", {}, el("div", {}, title, status), close),
    log, typing, prechat, errorLine, composer, el("footer", {}, followToggle, follow));
  root.append(launcher, panel);

  let ws = null;
  let token = store.get();
  let retry = 0;
  let limitedUntil = 0;
  let config = { prechat_fields: [] };
  let contact = null;
  let online = false;
  let typingTimer = null;
  let lastTyping = 0;
  const pending = new Map();
  const shown = new Set();

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) { input.focus(); markRead(); }
  }
  launcher.addEventListener("click", () => setOpen(panel.hidden));
  close.addEventListener("click", () => { setOpen(false); launcher.focus(); });
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { setOpen(false); launcher.focus(); } });

  function showError(text) {
    errorLine.textContent = text || "";
    errorLine.hidden = !text;
  }

  function sendFrame(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function time(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function addMessage(m) {
    if (!m || !m.id || shown.has(m.id)) return;
    shown.add(m.id);
    const mine = m.direction === "inbound";
    const who = mine ? "You" : (m.author || config.title || "Support");
    const item = el("li", { class: mine ? "msg mine" : "msg theirs", "data-id": m.id },
      el("span", { class: "who" }, who),
      el("span", { class: "body" }, m.body),
      el("time", { datetime: m.created_at }, time(m.created_at)));
    for (const a of m.attachments || []) {
      const link = el("a", { href: a.url, target: "_blank", rel: "noopener", class: "file" });
      if ((a.content_type || "").startsWith("image/")) link.append(el("img", { src: a.url, alt: a.filename || "image" }));
      else link.append(a.filename || "file");
      item.insertBefore(link, item.lastChild);
    }
    log.append(item);
    // Choices offered in the newest reply are buttons; older ones are no longer on offer.
    for (const old of log.querySelectorAll(".choices-item")) old.remove();
    if (!mine && Array.isArray(m.choices) && m.choices.length) {
      const row = el("div", { class: "choices", role: "group", "aria-label": "Choose an answer" });
      for (const c of m.choices) {
        row.append(el("button", { type: "button", class: "choice", onclick: () => {
          const clientId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
          pending.set(clientId, c.title);
          sendFrame({ type: "message", text: c.title, client_id: clientId, choice_id: c.id });
          row.remove();
        } }, c.title));
      }
      item.after(el("li", { class: "choices-item" }, row));
    }
    log.scrollTop = log.scrollHeight;
    if (!mine) { typing.hidden = true; markRead(); }
  }

  function markRead() {
    if (panel.hidden || document.visibilityState !== "visible") return;
    for (const li of log.querySelectorAll(".theirs:not([data-read])")) {
      li.setAttribute("data-read", "");
      sendFrame({ type: "read", message_id: li.dataset.id });
    }
  }
  document.addEventListener("visibilitychange", markRead);

  function renderStatus() {
    status.textContent = online
      ? "We're online and will reply shortly."
      : (contact && (contact.email || contact.phone)
        ? "We're away. We'll reply here, or by " + (contact.email ? "email" : "text") + "."
        : "We're away. Leave a message and we'll reply here.");
  }

  function needsPrechat() {
    if (shown.size > 0) return false;
    return (config.prechat_fields || []).some((f) => !(contact && contact[f]));
  }

  const labels = { name: "Your name", email: "Email address", phone: "Phone number" };
  const types = { name: "text", email: "email", phone: "tel" };
  function renderPrechat() {
    prechat.replaceChildren();
    if (!needsPrechat()) { prechat.hidden = true; composer.hidden = false; return; }
    prechat.append(el("p", {}, "Before we start, tell us who you are."));
    for (const f of config.prechat_fields) {
      const id = `parley-prechat-${f}`;
      prechat.append(el("label", { for: id }, labels[f]),
        el("input", { id, name: f, type: types[f], required: true, autocomplete: f === "phone" ? "tel" : f }));
    }
    prechat.append(el("button", { type: "submit" }, "Start chatting"));
    prechat.hidden = false;
    composer.hidden = true;
  }
  prechat.addEventListener("submit", (e) => {
    e.preventDefault();
    const frame = { type: "contact" };
    for (const f of config.prechat_fields) frame[f] = prechat.elements[f].value;
    if (!sendFrame(frame)) showError("Not connected yet; try again in a moment.");
  });

  function renderFollow() {
    follow.replaceChildren(
      el("label", { for: "parley-follow" }, "Your email address or phone number"),
      el("input", { id: "parley-follow", name: "follow", autocomplete: "email" }),
      el("button", { type: "submit" }, "Save"));
  }
  followToggle.addEventListener("click", () => {
    if (follow.hidden) renderFollow();
    follow.hidden = !follow.hidden;
  });
  follow.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = follow.elements.follow.value.trim();
    const frame = v.includes("@") ? { type: "contact", email: v } : { type: "contact", phone: v };
    if (!sendFrame(frame)) showError("Not connected yet; try again in a moment.");
  });

  composer.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const clientId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    pending.set(clientId, text);
    if (!sendFrame({ type: "message", text, client_id: clientId })) {
      showError("Not connected; your message will be sent when we reconnect.");
    }
    input.value = "";
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); composer.requestSubmit(); }
  });
  input.addEventListener("input", () => {
    const now = Date.now();
    if (now - lastTyping > 2000) { lastTyping = now; sendFrame({ type: "typing" }); }
  });

  function onFrame(f) {
    switch (f.type) {
      case "hello":
        token = f.token; store.set(token);
        config = f.config || config;
        title.textContent = config.title || "Chat";
        if (config.color) host.style.setProperty("--parley-accent", config.color);
        contact = f.contact; online = !!f.online;
        log.replaceChildren(); shown.clear();
        if (config.greeting) log.append(el("li", { class: "msg theirs greeting" }, el("span", { class: "body" }, config.greeting)));
        for (const m of f.messages || []) addMessage(m);
        renderStatus(); renderPrechat(); showError("");
        // Messages typed while disconnected go now; the client id makes a resend harmless.
        for (const [client_id, text] of pending) sendFrame({ type: "message", text, client_id });
        break;
      case "ack":
        pending.delete(f.client_id);
        break;
      case "message":
        addMessage(f.message);
        renderPrechat();
        break;
      case "typing":
        typing.textContent = `${f.name || "Someone"} is typing…`;
        typing.hidden = false;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => { typing.hidden = true; }, 6000);
        break;
      case "availability":
        online = !!f.online; renderStatus();
        break;
      case "contact":
        contact = f.contact; follow.hidden = true; showError("");
        renderStatus(); renderPrechat();
        break;
      case "error":
        showError(f.error && f.error.message);
        // Sent too fast: the server closes the socket; come back after a minute, not at once.
        if (f.error && f.error.code === "rate_limited") limitedUntil = Date.now() + 60000;
        break;
    }
  }

  function connect() {
    ws = new WebSocket(socketUrl(token));
    ws.addEventListener("open", () => { retry = 0; });
    ws.addEventListener("message", (e) => {
      try { onFrame(JSON.parse(e.data)); } catch (_) { /* a frame we do not know */ }
    });
    ws.addEventListener("close", () => {
      status.textContent = "Reconnecting…";
      retry = Math.min(retry + 1, 6);
      const wait = 500 * 2 ** retry * (0.5 + Math.random() / 2);
      setTimeout(connect, Math.max(wait, limitedUntil - Date.now()));
    });
  }

  function mount() {
    document.body.append(host);
    connect();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
