// HTML escaping for everything rendered into mail bodies and the join page.
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

/** One line for a header (subject): control characters would break or inject headers. */
export function oneLine(s: string, max = 120): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  const flat = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
