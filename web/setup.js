// First-start setup: the one-time token travels in the URL fragment, so it never reaches logs.
const form = document.getElementById("setup");
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = Object.fromEntries(new FormData(form));
  body.token = location.hash.slice(1);
  const r = await fetch("/api/v1/setup", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  // The answer signs the new admin in: the app needs only the session's CSRF token.
  if (r.ok) { localStorage.setItem("csrf", (await r.json()).csrf_token); location.href = "/"; return; }
  const err = await r.json().catch(() => ({}));
  form.querySelector(".error").textContent = err.error ? err.error.message : "Setup failed.";
});
