// Minimal types for the parts of autocannon's programmatic API the benchmark uses.
declare module 'autocannon' {
  interface Result {
    requests: { total: number; average: number };
    non2xx: number;
    errors: number;
    timeouts: number;
    statusCodeStats: Record<string, { count: number }>;
  }
  interface Instance extends PromiseLike<Result> {
    on(
      event: 'response',
      fn: (client: unknown, status: number, bytes: number, responseTime: number) => void,
    ): void;
    stop(): void;
  }
  function autocannon(opts: Record<string, unknown>): Instance;
  export default autocannon;
}
