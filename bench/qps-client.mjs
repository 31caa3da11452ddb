// The application side of the endpoint-overhead figure (bench/compute.ts), in its own process as a
// real application is: one connection each through the endpoint port, straight to the compute,
// through a minimal relay (bench/min-relay.mjs) and through a direct-mode endpoint (another engine's,
// ORGPLANE_ENDPOINT_MODE=direct), the same query one at a time, in alternating rounds
// so that a change in the machine's load falls on all alike. Two queries: a one-row SELECT (the
// relay's worst case) and a 100-row one. Prints {"<query>": {"endpointQps": n, …}, …}.
import pg from 'pg';

const { endpointPort, directPort, floorPort, directModePort, directModeCa, password, ca, perRound, rounds } =
  JSON.parse(process.argv[2] ?? '{}');
const connect = async (port, authority = ca) => {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'neondb_owner',
    password,
    database: 'neondb',
    ssl: { ca: authority },
  });
  await c.connect();
  return c;
};
const sides = [
  ['endpointQps', await connect(endpointPort)],
  ['directQps', await connect(directPort)],
  ['minimalRelayQps', await connect(floorPort)],
  ['directModeQps', await connect(directModePort, directModeCa)],
];
const queries = {
  oneRow: ['SELECT $1::int AS x', (i) => [i]],
  hundredRows: ['SELECT g, md5((g + $1)::text) FROM generate_series(1, 100) g', (i) => [i]],
};
const out = {};
for (const [label, [sql, params]] of Object.entries(queries)) {
  const spent = Object.fromEntries(sides.map(([name]) => [name, 0]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, c] of sides) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < perRound; i++) await c.query(sql, params(i));
      spent[name] += Number(process.hrtime.bigint() - t0) / 1e9;
    }
  }
  out[label] = Object.fromEntries(
    Object.entries(spent).map(([name, s]) => [name, Math.round((perRound * rounds) / s)]),
  );
}
for (const [, c] of sides) await c.end();
process.stdout.write(JSON.stringify(out));
