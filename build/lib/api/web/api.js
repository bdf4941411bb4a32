// The API client of the page: the token (kept in sessionStorage), JSON requests with the
// Authorization header, errors as ApiError, and downloads that carry the token.

const TOKEN_KEY = "exportService.token";
const DEV_KEY = "exportService.development";

// Relative to the page, so the page also works when a proxy serves it under a prefix.
const BASE = new URL(".", document.baseURI);

export function apiUrl(path) {
  return new URL(path.replace(/^\//, ""), BASE).toString();
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get development() {
    return sessionStorage.getItem(DEV_KEY) === "true";
  },
  save(token, development = false) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(DEV_KEY, String(Boolean(development)));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(DEV_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    const message =
      (body && typeof body === "object" && body.message) ||
      (status ? `The service answered HTTP ${status}.` : "The service could not be reached.");
    super(message);
    this.status = status;
    this.code = body && typeof body === "object" ? body.error : undefined;
    this.details = body && Array.isArray(body.details) ? body.details : [];
    this.body = body;
  }
}

// Called with the ApiError of any 401 answer to a request that carried a token.
let onUnauthorized = () => {};
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export function authHeaders(extra = {}) {
  const token = session.token;
  return token ? { ...extra, Authorization: `Bearer ${token}` } : { ...extra };
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return new ApiError(response.status, body);
}

// fetch() with the token; throws ApiError for any answer that is not 2xx.
export async function apiFetch(path, { method = "GET", body, headers = {}, signal, auth = true } = {}) {
  const init = { method, signal, headers: auth ? authHeaders(headers) : { ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(apiUrl(path), init);
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError(0, { message: "The service could not be reached. Check your connection." });
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && auth && session.token) onUnauthorized(error);
    throw error;
  }
  return response;
}

export async function apiJson(path, options) {
  const response = await apiFetch(path, { ...options, headers: { Accept: "application/json", ...(options?.headers || {}) } });
  if (response.status === 204) return null;
  return response.json();
}

// Save a signed link (the files listing gives one per file and one for the ZIP) the way the
// browser saves any download: streamed to disk, however large the file.
export function saveLink(link, fileName) {
  const anchor = document.createElement("a");
  anchor.href = link;
  anchor.download = fileName || "";
  anchor.style.display = "none";
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
}

// Fetch a small file (the manifest) with the token and hand it to the browser as a download.
export async function downloadFile(path, fileName) {
  const response = await apiFetch(path);
  const blob = await response.blob();
  const name = fileName || nameFromDisposition(response.headers.get("Content-Disposition")) || "download";
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  // Give the browser time to start saving before the Blob is let go.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return blob.size;
}

function nameFromDisposition(header) {
  if (!header) return null;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename="?([^";]+)"?/i.exec(header);
  return plain ? plain[1] : null;
}

export function uuid4() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
