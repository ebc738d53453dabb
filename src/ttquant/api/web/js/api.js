// The REST client: JSON over /api/v1 with the session's bearer credential.

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// FastAPI answers {"detail": "..."} or, for a malformed body, {"detail": [{msg, loc}, ...]}.
function detailOf(body, status) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}`).join("; ");
  }
  return `HTTP ${status}`;
}

export class Api {
  constructor(credential, onUnauthorized) {
    this.credential = credential;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (this.credential) headers.Authorization = `Bearer ${this.credential}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(API + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, `the server can't be reached (${error.message})`);
    }
    const text = await response.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
    if (!response.ok) {
      if (response.status === 401 && this.onUnauthorized) this.onUnauthorized();
      throw new ApiError(response.status, detailOf(parsed, response.status));
    }
    return parsed;
  }

  get(path) { return this.request("GET", path); }
  post(path, body) { return this.request("POST", path, body ?? {}); }
  patch(path, body) { return this.request("PATCH", path, body); }
  del(path) { return this.request("DELETE", path); }
}

// Trade an API token for a JWT session (POST /auth/login is public).
export async function login(token) {
  const api = new Api(null);
  const session = await api.post("/auth/login", { token });
  return session.access_token;
}
