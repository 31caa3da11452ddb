// HTML for pages and mail bodies. Server-rendered HTML escapes structurally: html`…${value}…` escapes every interpolation
// unless it is already SafeHtml (made by html`…` itself, or by raw() for markup the code wrote).
// A page built only from html`…` cannot carry unescaped input, whatever a later edit interpolates.
const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** Markup that is already safe to embed. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** What an interpolation may be: text (escaped), numbers, safe markup, lists of these; nothing for null/false. */
export type HtmlValue = string | number | SafeHtml | null | undefined | false | readonly HtmlValue[];

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return (v as readonly HtmlValue[]).map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/** Trusted markup written by the code itself (never input). */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** One line for a header (subject): control characters would break or inject headers. */
export function oneLine(s: string, max = 120): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  const flat = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A mail body: the title and one <p> per paragraph (html`…` blocks, so escaping is structural). */
export function mailPage(title: string, blocks: readonly SafeHtml[]): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${title}</title>
      </head>
      <body style="font-family: sans-serif; line-height: 1.5; max-width: 40em">
        ${blocks.map((b) => html`<p>${b}</p> `)}
      </body>
    </html>`.value;
}
