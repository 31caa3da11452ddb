// Errors in words written for people, chosen by the API's status/code and what was being done;
// the API's own message stays one click away (a <details> under the sentence).

/** A quoted value from the API's message ("…" or “…”), e.g. the address that was refused. */
function quoted(message) {
  const m = /"([^"]+)"|“([^”]+)”/.exec(message || '');
  return m ? m[1] || m[2] : null;
}

/** Email addresses the API's message names (e.g. "a@x.org and b@y.org already have …"). */
function emailsIn(message) {
  const found = (message || '').match(/[^\s,"“”()]+@[^\s,"“”();]+[a-z0-9]/gi) || [];
  return [...new Set(found)];
}

const GENERIC = {
  0: 'The server could not be reached. Check your connection and try again.',
  400: 'Something in the form is not valid. Check it and try again.',
  401: 'Your session has ended. Sign in again.',
  403: 'You do not have permission to do this. Ask an admin of the organization.',
  404: 'This no longer exists. It may have been removed by someone else; reload the page.',
  409: 'This conflicts with a change made meanwhile. Reload the page and try again.',
  410: 'This has expired.',
  422: 'This cannot be done as things stand.',
  423: 'This is locked by another operation. Try again in a moment.',
  429: 'Too many requests in a short time. Wait a moment and try again.',
  500: 'Something went wrong on the server. Try again in a moment.',
  503: 'The server is temporarily unavailable. Try again in a moment.',
};

/** context: what was being done, e.g. 'invite', 'role', 'remove', 'leave', 'project-create'. */
export function humanMessage(err, context) {
  const status = err.status || 0;
  const api = (err.body && err.body.message) || err.message || '';
  const q = quoted(api);
  if (status === 403 && /CSRF/i.test(api))
    return 'Your session is out of date. Reload the page and try again.';
  switch (context) {
    case 'invite':
      if (status === 400 && /valid email/.test(api))
        return q
          ? `“${q}” is not a valid email address.`
          : 'One of the addresses is not a valid email address.';
      if (status === 400 && /twice|duplicate/i.test(api))
        return q ? `${q} appears twice in the list.` : 'An address appears twice in the list.';
      if (status === 409) {
        const who = emailsIn(api);
        const names = who.length ? who.join(', ') : 'Someone on the list';
        const many = who.length > 1;
        if (/already (a )?member/i.test(api))
          return `${names} ${many ? 'are' : 'is'} already ${many ? 'members' : 'a member'} of this organization. Nobody was invited.`;
        return `${names} already ${many ? 'have' : 'has'} a pending invitation. Use Resend in the list below instead. Nobody was invited.`;
      }
      if (status === 429)
        return 'This organization has sent as many invitations as it may this hour. Try again later.';
      break;
    case 'role':
      if (status === 409) return 'You are the only admin. Make another member admin first.';
      break;
    case 'remove':
    case 'leave':
      if (status === 409)
        return 'The only admin cannot leave or be removed. Make another member admin first.';
      break;
    case 'project-create':
    case 'project-recover':
      if (status === 422 && /limit/.test(api))
        return "Your plan's project limit is reached. Delete a project, or ask an operator to upgrade the plan.";
      if (status === 400 && /region/.test(api)) return 'Choose one of the listed regions.';
      if (status === 400 && /name/.test(api))
        return 'Give the project a shorter name (at most 64 characters).';
      break;
    case 'project-rename':
      if (status === 400) return 'Give the project a name of at most 64 characters.';
      break;
    case 'key-create':
      if (status === 400 && /expire|lifetime/i.test(api))
        return "The organization's maximum key lifetime does not allow this expiry. Pick a shorter one.";
      if (status === 400) return 'Give the key a name of at most 64 characters.';
      break;
    case 'org-create':
    case 'org-rename':
      if (status === 400) return 'Give the organization a name of at most 256 characters.';
      break;

    case 'share':
      if (status === 400) return 'Enter a valid email address.';
      if (status === 409) return 'This project is already shared with that person.';
      break;
    case 'rotate':
      if (status === 409)
        return 'This key was already rotated, revoked or has expired. Create a new key instead.';
      if (status === 400)
        return "The organization's maximum key lifetime does not allow this. Pick a shorter expiry.";
      break;
    case 'resend':
      if (status === 409 || status === 400) return 'Only pending or expired invitations can be sent again.';
      break;
  }
  return GENERIC[status] || GENERIC[status >= 500 ? 500 : 400];
}

/** The API's own words, for the details disclosure: "HTTP 409 CONFLICT: …". */
export function apiDetail(err) {
  const b = err.body || {};
  const parts = [`HTTP ${err.status || '—'}`];
  if (b.code) parts.push(b.code);
  return `${parts.join(' ')}: ${b.message || err.message || 'no message'}${b.request_id ? ` (request ${b.request_id})` : ''}`;
}
