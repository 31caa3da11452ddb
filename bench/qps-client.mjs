// The application side of the endpoint-overhead figure (bench/compute.ts), in its own process as a
// real application is: one connection each through the endpoint port, straight to the compute,
// through a minimal relay (bench/min-relay.mjs) and through a direct-mode endpoint (another engine's,
// ORGPLANE_ENDPOINT_MODE=direct), the same query one at a time, in alternating rounds so that a
// change in the machine's load falls on all alike. Each round starts at the next side: the side
// that goes first measured up to 20 % slower in a fixed order, and rotating spreads that over all.
// Two queries: a one-row SELECT (the relay's worst case) and a 100-row one.
// Prints {"<query>": {"endpointQps": n, …}, …}.
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
// Three connections a side, used in turn: one connection's speed depends on where the scheduler puts
// its backend beside the client (up to ±20 % between two connections on this 2-core VM), and a side
// should not be judged on one placement.
const PER_SIDE = 3;
const several = async (port, authority) => {
  const cs = [];
  for (let i = 0; i < PER_SIDE; i++) cs.push(await connect(port, authority));
  return cs;
};
const sides = [
  ['endpointQps', await several(endpointPort)],
  ['directQps', await several(directPort)],
  ['minimalRelayQps', await several(floorPort)],
  ['directModeQps', await several(directModePort, directModeCa)],
];
const queries = {
  oneRow: ['SELECT $1::int AS x', (i) => [i]],
  hundredRows: ['SELECT g, md5((g + $1)::text) FROM generate_series(1, 100) g', (i) => [i]],
};
const out = {};
for (const [label, [sql, params]] of Object.entries(queries)) {
  const spent = Object.fromEntries(sides.map(([name]) => [name, 0]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, c] of [...sides.slice(r % sides.length), ...sides.slice(0, r % sides.length)]) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < perRound; i++) await c[i % PER_SIDE].query(sql, params(i));
      spent[name] += Number(process.hrtime.bigint() - t0) / 1e9;
    }
  }
  out[label] = Object.fromEntries(
    Object.entries(spent).map(([name, s]) => [name, Math.round((perRound * rounds) / s)]),
  );
}
for (const [, cs] of sides) for (const c of cs) await c.end();
process.stdout.write(JSON.stringify(out));
