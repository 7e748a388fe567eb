// The public API as the app calls it: JSON in and out, the CSRF token on every write, and a
// signed-out answer sending the agent back to the sign-in form.
import { state } from "./state.js";
import { showSignIn } from "./app.js";

export async function api(path, opts = {}) {
  const headers = { "content-type": "application/json" };
  if (opts.method && opts.method !== "GET") headers["x-csrf-token"] = state.csrf;
  const r = await fetch(path, { ...opts, headers: { ...headers, ...(opts.headers || {}) }, credentials: "same-origin" });
  if (r.status === 401) { showSignIn(); throw new Error("signed out"); }
  const body = r.status === 204 ? null : await r.json();
  if (r.status === 403 && body && body.error && body.error.code === "csrf_failed") { showSignIn(); throw new Error("signed out"); }
  if (!r.ok) throw new Error(body && body.error ? body.error.message : r.statusText);
  return body;
}

// An action on a conversation (assign, resolve, snooze, labels …).
export const act = (id, path, body) => api(`/api/v1/conversations/${id}/${path}`, { method: "POST", body: JSON.stringify(body || {}) });
