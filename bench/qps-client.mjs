// The application side of the endpoint-overhead figure (bench/compute.ts), in its own process as a
// real application is: one connection through the endpoint port and one straight to the compute,
// the same one-row query one at a time, alternating rounds so that a change in the machine's load
// falls on both alike. Prints {"endpointQps": n, "directQps": n}.
import pg from 'pg';

const { endpointPort, directPort, password, ca, perRound, rounds } = JSON.parse(process.argv[2] ?? '{}');
const connect = async (port) => {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'neondb_owner',
    password,
    database: 'neondb',
    ssl: { ca },
  });
  await c.connect();
  return c;
};
const sides = [
  ['endpointQps', await connect(endpointPort)],
  ['directQps', await connect(directPort)],
];
const spent = { endpointQps: 0, directQps: 0 };
for (let r = 0; r < rounds; r++) {
  for (const [name, c] of sides) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) await c.query('SELECT $1::int AS x', [i]);
    spent[name] += Number(process.hrtime.bigint() - t0) / 1e9;
  }
}
for (const [, c] of sides) await c.end();
const out = {};
for (const name of Object.keys(spent)) out[name] = Math.round((perRound * rounds) / spent[name]);
process.stdout.write(JSON.stringify(out));
