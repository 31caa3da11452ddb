// fetch wrappers for the console: the public API under /api/v2 (cookie session + CSRF header),
// and the session endpoints. Errors carry the API's own message, shown to the user as is.
let csrfToken = null;

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `request failed (HTTP ${status})`);
    this.status = status;
    this.body = body || {};
  }
}

async function request(url, { method = 'GET', body, signedIn = true } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, { message: 'the server could not be reached; check your connection and retry' });
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.status === 401 && signedIn) {
    // The session ended (expired, signed out elsewhere): back to the sign-in page.
    window.location.assign(`/signin?next=${encodeURIComponent(window.location.pathname)}`);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** A call to the public API, e.g. api('GET', '/users/me'). */
export function api(method, path, body) {
  return request(`/api/v2${path}`, { method, body });
}

export async function loadSession() {
  const s = await request('/console/session', { signedIn: false });
  csrfToken = s.csrf_token;
  return s;
}

export function signIn(email, password) {
  return request('/console/session', { method: 'POST', body: { email, password }, signedIn: false });
}

export function signOut() {
  return request('/console/session', { method: 'DELETE', signedIn: false });
}

export function checkSetupToken(token) {
  return request(`/console/setup?token=${encodeURIComponent(token)}`, { signedIn: false });
}

export function completeSetup(token, password) {
  return request('/console/setup', { method: 'POST', body: { token, password }, signedIn: false });
}

/**
 * Where to go after signing in: only a path of this very origin. The URL parser decides (it drops
 * tabs and newlines and reads backslashes as slashes, so "/\t/evil.example" or "/\\evil" would
 * leave the site); the result must also not start with "//", which a browser reads as another host.
 * The server applies the same rule (src/console/next-path.ts).
 */
export function safeNext(raw, origin = window.location.origin) {
  if (typeof raw !== 'string' || !raw.startsWith('/')) return '/';
  let url;
  try {
    url = new URL(raw, origin);
  } catch {
    return '/';
  }
  if (url.origin !== origin) return '/';
  const path = `${url.pathname}${url.search}${url.hash}`;
  return path.startsWith('/') && !path.startsWith('//') && !path.includes('\\') ? path : '/';
}
