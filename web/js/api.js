// The one way the console talks to the services: same origin, /api/<service>/..., the bearer token from
// sessionStorage in the Authorization header (never in a URL), and RFC 9457 problem+json turned into a
// message people can read.
import { t } from "./i18n.js";

const SESSION_KEY = "tongpin.session";
const listeners = new Set();

/** {token, expiresAt, roles, name, staffId} or null once absent or expired. */
export function session() {
  const raw = sessionStorage.getItem(SESSION_KEY);
  if (!raw) return null;
  try {
    const value = JSON.parse(raw);
    if (!value.token || (value.expiresAt && Date.now() > value.expiresAt)) {
      sessionStorage.removeItem(SESSION_KEY);
      return null;
    }
    return value;
  } catch {
    sessionStorage.removeItem(SESSION_KEY);
    return null;
  }
}

export function roles() {
  return session()?.roles ?? [];
}

export function hasRole(...wanted) {
  const mine = roles();
  return wanted.some((role) => mine.includes(role));
}

function changed() {
  listeners.forEach((fn) => fn(session()));
}

export function onSessionChange(fn) {
  listeners.add(fn);
}

export function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
  changed();
}

/** An error with a readable message; `status` 0 means the network failed, 502-504 a service down. */
export class ApiError extends Error {
  constructor(message, { status, problem, service, path }) {
    super(message);
    this.status = status;
    this.problem = problem;
    this.service = service;
    this.path = path;
  }

  get serviceDown() {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

function describe(status, problem, service, path) {
  const detail = problem?.detail || problem?.title || "";
  if (status === 502 || status === 503 || status === 504) {
    return t("error.serviceDown", { service: t(`service.${service}`) });
  }
  if (status === 401) return t("error.unauthorized");
  if (status === 403) return t("error.forbidden");
  if (status === 404 && problem?.type?.endsWith("/not-found") && !problem.detail?.includes("no such service")) {
    return t("error.notFound", { detail });
  }
  if (status === 404 || status === 405) return t("common.notAvailable", { path: `/api/${service}${path}` });
  if (status === 422 || status === 400) {
    const errors = Array.isArray(problem?.errors) ? problem.errors : [];
    const parts = errors.map((e) => [e.loc?.slice(1).join(".") || e.field, e.msg || e.message].filter(Boolean).join(": "));
    return t("error.invalid", { detail: parts.length ? parts.join("; ") : detail });
  }
  return t("error.generic", { status, detail });
}

/**
 * Call a service: api("counselling", "/cases/abc") or with {method, json, form, query}.
 * Answers parsed JSON (or text for non-JSON answers, or null for 204).
 */
export async function api(service, path, { method = "GET", json, form, query, auth = true, accept } = {}) {
  const url = new URL(`/api/${service}${path}`, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: accept || "application/json, application/problem+json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }
  const current = session();
  if (auth && current) headers.Authorization = `Bearer ${current.token}`;
  let response;
  try {
    response = await fetch(url, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  } catch (cause) {
    throw new ApiError(t("error.network"), { status: 0, problem: null, service, path });
  }
  const type = response.headers.get("Content-Type") || "";
  let payload = null;
  if (response.status !== 204) {
    const text = await response.text();
    if (type.includes("json") && text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = text;
      }
    } else {
      payload = text;
    }
  }
  if (!response.ok) {
    const problem = payload && typeof payload === "object" ? payload : null;
    if (response.status === 401 && auth && current) {
      sessionStorage.removeItem(SESSION_KEY);
      queueMicrotask(changed);
    }
    throw new ApiError(describe(response.status, problem, service, path), {
      status: response.status, problem, service, path,
    });
  }
  return payload;
}

/** POST /api/counselling/auth/token (OAuth2 password form); keeps the token in sessionStorage. */
export async function signIn(username, password) {
  const answer = await api("counselling", "/auth/token", {
    method: "POST", form: { grant_type: "password", username, password }, auth: false,
  });
  const value = {
    token: answer.access_token,
    expiresAt: answer.expires_in ? Date.now() + answer.expires_in * 1000 : null,
    roles: answer.roles || [],
    name: answer.name || username,
    staffId: answer.staff_id || null,
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
  changed();
  return value;
}

/** Items of a list answer, whether the service answers a bare list or a page {items: [...]}. */
export function items(answer) {
  if (Array.isArray(answer)) return answer;
  if (answer && Array.isArray(answer.items)) return answer.items;
  return [];
}
