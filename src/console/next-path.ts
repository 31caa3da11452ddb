// Where the console may send a browser after sign-in. The same rule as safeNext() in
// public/assets/api.js (the browser's side); test/security-findings.test.ts runs both on one list.

/**
 * A path of `origin` itself, or "/". The URL parser decides (it drops tabs and newlines and reads
 * backslashes as slashes, so "/\t/evil.example" or "/\\evil" would leave the site), and the result
 * must not start with "//", which a browser reads as another host.
 */
export function safeNextPath(raw: unknown, origin: string): string {
  if (typeof raw !== 'string' || !raw.startsWith('/')) return '/';
  let url: URL;
  try {
    url = new URL(raw, origin);
  } catch {
    return '/';
  }
  if (url.origin !== new URL(origin).origin) return '/';
  const path = `${url.pathname}${url.search}${url.hash}`;
  return path.startsWith('/') && !path.startsWith('//') && !path.includes('\\') ? path : '/';
}
