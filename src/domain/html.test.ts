// html`…` escapes every interpolation unless it is SafeHtml; lists and nothing render as expected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { html, raw } from './html.ts';

test('interpolations are escaped by default; SafeHtml, lists and empty values compose', () => {
  const name = `<script>alert("x")</script>&'`;
  assert.equal(
    html`<p title="${name}">${name}</p>`.value,
    '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</p>',
  );
  const inner = html`<b>${'a<b'}</b>`;
  assert.equal(html`<div>${inner}</div>`.value, '<div><b>a&lt;b</b></div>', 'not escaped twice');
  assert.equal(html`${['<', html`<i>x</i>`, 3]}`.value, '&lt;<i>x</i>3');
  assert.equal(html`[${null}${undefined}${false}]`.value, '[]');
  assert.equal(html`${raw('<hr>')}`.value, '<hr>');
});
