// Server-side prepared statements on PostgreSQL for the few fixed SQL texts that run on every
// request or write: a text that starts with SERVER_PREPARED is sent as a named statement, so each
// pooled connection parses and plans it once instead of on every execution (the audit append's
// planning alone cost ~0.5 ms). Only fixed texts may carry the mark (preparedQuery's compiled
// queries, the audit append): the names are bounded per database all the same, and a text past the
// bound runs unnamed, so a mistake costs speed, never the server's memory.

/** The comment that asks for a named statement (PostgreSQL ignores it as SQL). */
export const SERVER_PREPARED = '/* orgplane:prepared */ ';

const MAX_NAMED_TEXTS = 256;

/** Statement names for marked texts, one per distinct text; one instance per database. */
export class StatementNames {
  private readonly names = new Map<string, string>();

  /** The name to prepare `text` under, or undefined to run it unnamed. */
  nameFor(text: string): string | undefined {
    if (!text.startsWith(SERVER_PREPARED)) return undefined;
    let name = this.names.get(text);
    if (name === undefined) {
      if (this.names.size >= MAX_NAMED_TEXTS) return undefined;
      // pg keeps a connection's prepared statements by name: a distinct name per text, never reused.
      name = `orgplane_${this.names.size + 1}`;
      this.names.set(text, name);
    }
    return name;
  }
}
