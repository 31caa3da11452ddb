// The floor of any connection relay, for the endpoint-overhead figure (bench/compute.ts): the least
// a relay can do, in a process of its own as orgplane's is — accept, connect upstream, pipe both
// ways with TCP_NODELAY. Measured beside orgplane's endpoint port, it shows how much of that port's
// overhead is the extra hop itself (two more process wake-ups a round trip) and how much is orgplane.
// Usage: node bench/min-relay.mjs <upstream port>; prints the port it listens on.
import net from 'node:net';

const upstreamPort = Number(process.argv[2]);
const server = net.createServer({ noDelay: true }, (socket) => {
  const upstream = net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
  socket.on('error', () => upstream.destroy());
  upstream.on('error', () => socket.destroy());
  socket.pipe(upstream);
  upstream.pipe(socket);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
