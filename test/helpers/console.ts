// Console sessions in tests: sign in through the real endpoint and reuse the cookie + CSRF token.
import assert from 'node:assert/strict';
import type { Res, TestApp } from './app.ts';

export interface Session {
  /** "name=value", ready for a Cookie header. */
  cookie: string;
  csrf: string;
  setCookie: string;
}

export function setCookieOf(res: Res): string {
  const raw = res.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [String(raw)];
  assert.equal(list.length, 1, `expected one Set-Cookie, got ${JSON.stringify(list)}`);
  return list[0] ?? '';
}

export async function signIn(
  t: TestApp,
  email: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<Session> {
  const res = await t.call('POST', '/console/session', { body: { email, password }, headers });
  assert.equal(res.status, 200, res.text);
  const setCookie = setCookieOf(res);
  return { cookie: setCookie.split(';')[0] ?? '', csrf: res.body.csrf_token, setCookie };
}

/** Headers for a cookie-authenticated call; `csrf: false` leaves the token out. */
export function withSession(s: Session, opts: { csrf?: string | false } = {}): Record<string, string> {
  const h: Record<string, string> = { cookie: s.cookie };
  if (opts.csrf !== false) h['x-csrf-token'] = opts.csrf ?? s.csrf;
  return h;
}
