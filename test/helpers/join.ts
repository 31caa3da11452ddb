// The invitation join page as a browser uses it: open the page (which sets the join cookie and
// puts the matching CSRF value in the form), then post the form with that cookie.
import type { Res, TestApp } from './app.ts';

export interface JoinForm {
  /** The page's path: /invitations/accept or /shares/accept. */
  path?: string;
  token: string;
  cookie: string;
  csrf: string;
  page: Res;
}

export function urlencoded(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** GET the join page for a token (or a "/invitations/accept?token=…" path). */
export async function openJoinPage(t: TestApp, tokenOrPath: string): Promise<JoinForm> {
  const path = tokenOrPath.startsWith('/')
    ? tokenOrPath
    : `/invitations/accept?token=${encodeURIComponent(tokenOrPath)}`;
  const token = new URL(`http://x${path}`).searchParams.get('token') ?? '';
  const page = await t.call('GET', path);
  const setCookie = [page.headers['set-cookie'] ?? []].flat().map(String);
  const cookie = setCookie.map((c) => /^((?:__Host-)?orgplane_join=[^;]+)/.exec(c)?.[1]).find(Boolean) ?? '';
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
  return { path: new URL(`http://x${path}`).pathname, token, cookie, csrf, page };
}

/** POST the join form from the page's own origin, with its cookie and CSRF field. */
export function postJoin(
  t: TestApp,
  form: Pick<JoinForm, 'token' | 'cookie' | 'csrf' | 'path'>,
  fields: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<Res> {
  return t.call('POST', form.path ?? '/invitations/accept', {
    body: urlencoded({ token: form.token, csrf: form.csrf, ...fields }),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(form.cookie ? { cookie: form.cookie } : {}),
      ...headers,
    },
  });
}
