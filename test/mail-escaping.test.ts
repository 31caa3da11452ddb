// Mail bodies are built from html`…` blocks (src/domain/html.ts mailPage): whatever a name, a label
// or a link holds, it arrives escaped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { html, mailPage } from '../src/domain/html.ts';
import { newAccountInvitation } from '../src/invitations/invitations.mail.ts';
import { shareAdded } from '../src/sharing/sharing.mail.ts';
test('mail bodies: the title and every paragraph escape what they interpolate', () => {
  const page = mailPage('<t>', [html`<b>${'<i>'}</b>`]);
  assert.match(page, /<title>&lt;t&gt;<\/title>/);
  assert.match(page, /<p><b>&lt;i&gt;<\/b><\/p>/);
  const evil = '<img src=x onerror=alert(1)>';
  const invite = newAccountInvitation(
    {
      orgId: 'org-x',
      orgName: evil,
      inviterName: evil,
      inviterEmail: 'a@example.com',
      role: 'member',
      recipient: 'b@example.com',
      invitationId: 'i',
      publicUrl: 'http://localhost',
    },
    'http://localhost/invitations/accept?token=t&x="y"',
    new Date(0).toISOString(),
  );
  const share = shareAdded({
    projectId: 'p',
    projectName: evil,
    granterLabel: evil,
    recipient: 'b@example.com',
    permissionId: 'g',
    orgId: null,
    publicUrl: 'http://localhost',
  });
  for (const body of [invite.html, share.html]) {
    assert.ok(!body.includes('<img'), body);
    assert.ok(body.includes('&lt;img src=x onerror=alert(1)&gt;'), body);
  }
  assert.ok(invite.html.includes('href="http://localhost/invitations/accept?token=t&amp;x=&quot;y&quot;"'));
});
