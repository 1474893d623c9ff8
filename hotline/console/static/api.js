// Calls to /api/v1 with the session cookie and, on writes, its CSRF token.
import { page, t } from "./page.js";

const API = "/api/v1";
let csrf = page.csrf;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Back to the sign-in page, saying why (a session that ended or expired). */
export function signInAgain(reason = "session") {
  const next = page.page === "login" ? "" : `&next=${encodeURIComponent(page.page)}`;
  location.assign(`/console/login?why=${reason}${next}`);
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let reply;
  try {
    reply = await fetch(API + path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", t("error.network"));
  }
  if (reply.status === 204) return null;
  const data = await reply.json().catch(() => ({}));
  if (!reply.ok) {
    const error = data.error ?? { code: "internal", message: reply.statusText };
    if (reply.status === 401 && page.page !== "login") signInAgain();
    throw new ApiError(reply.status, error.code, error.message);
  }
  return data;
}

/** The CSRF token again (after a sign-in, or when the page's is stale). */
export async function refreshSession() {
  const who = await api("GET", "/session");
  csrf = who.csrf_token;
  return who;
}

export function setCsrf(token) {
  csrf = token;
}
