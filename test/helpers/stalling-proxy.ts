// A TCP proxy to PostgreSQL that can stop forwarding a connection without closing it: what a NAT
// or load balancer does when it forgets an idle connection. Both ends keep an open socket; bytes
// written into it vanish. The LISTEN connection is recognised by the LISTEN statement it sends.
import net from 'node:net';

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  listens: boolean;
  stalled: boolean;
}

export class StallingProxy {
  private server = net.createServer((client) => this.accept(client));
  private pairs = new Set<Pair>();
  port = 0;

  constructor(
    private readonly upstreamPort = 5432,
    private readonly upstreamHost = '127.0.0.1',
  ) {}

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** url with its host replaced by this proxy. */
  via(url: string): string {
    const u = new URL(url);
    u.host = `127.0.0.1:${this.port}`;
    return u.toString();
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.upstreamPort, this.upstreamHost);
    const pair: Pair = { client, upstream, listens: false, stalled: false };
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
    client.on('data', (d: Buffer) => {
      if (/\blisten\s+"/i.test(d.toString('latin1'))) pair.listens = true;
      if (!pair.stalled) upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!pair.stalled) client.write(d);
    });
  }

  /** Stops forwarding (both ways, silently, sockets left open) on every connection that LISTENs. */
  stallListeners(): number {
    let n = 0;
    for (const p of this.pairs) {
      if (p.listens && !p.stalled) {
        p.stalled = true;
        n++;
      }
    }
    return n;
  }

  /** Connections currently open that LISTEN and still forward. */
  liveListeners(): number {
    return [...this.pairs].filter((p) => p.listens && !p.stalled).length;
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise((r) => this.server.close(r));
  }
}
