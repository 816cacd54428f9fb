// npm's pg through pgrouter: parameterised queries, named prepared statements reused across
// transactions (and so across pooled server connections), a transaction with rollback, and an
// error. Prints one JSON object that tests/integration/test_drivers.py asserts; exits non-zero on
// any unexpected failure.
//
//   node smoke.js PORT
'use strict';
const { Client } = require('pg');

const port = Number(process.argv[2]);
const cfg = { host: '127.0.0.1', port, user: 'app', database: 'app' };

async function main() {
  const out = {};
  const a = new Client(cfg);
  const b = new Client(cfg);
  await a.connect();
  await b.connect();
  try {
    await a.query('DROP TABLE IF EXISTS js_t');
    await a.query('CREATE TABLE js_t (id int PRIMARY KEY, name text, n numeric, at timestamptz)');

    // Parameterised queries (unnamed statements): types, unicode, NULL.
    for (let i = 1; i <= 20; i++)
      await a.query('INSERT INTO js_t VALUES ($1, $2, $3, $4)',
                    [i, `zeile-${i}-ü✓`, i % 5 === 0 ? null : i / 8, new Date(Date.UTC(2024, 0, i))]);
    const r = await a.query('SELECT id, name, n, at FROM js_t WHERE id = ANY($1) ORDER BY id', [[3, 5]]);
    out.param_rows = r.rows.map((x) => [x.id, x.name, x.n, x.at.toISOString()]);

    // A named statement: the driver parses it once per client and then only binds it. b holds
    // a transaction open during a's odd rounds, so a's statement meets another server connection.
    const named = { name: 'by_id', text: 'SELECT pg_backend_pid() AS pid, name, $2::int * 2 AS twice FROM js_t WHERE id = $1' };
    const pids = new Set();
    let namedOk = 0;
    for (let round = 0; round < 20; round++) {
      if (round % 2 === 1) {
        await b.query('BEGIN');
        await b.query('SELECT 1');
      }
      await a.query('BEGIN');
      const x = await a.query({ ...named, values: [round % 20 + 1, round] });
      await a.query('UPDATE js_t SET n = coalesce(n, 0) + 1 WHERE id = $1', [round % 20 + 1]);
      await a.query('COMMIT');
      if (round % 2 === 1)
        await b.query('COMMIT');
      pids.add(x.rows[0].pid);
      if (x.rows.length === 1 && x.rows[0].name === `zeile-${round % 20 + 1}-ü✓` && x.rows[0].twice === round * 2)
        namedOk++;
    }
    out.named_ok = namedOk;
    out.named_distinct_server_pids = pids.size;
    // The same name used on another client is that client's own statement.
    const y = await b.query({ name: 'by_id', text: 'SELECT $1::text AS other, $2::int AS i', values: ['b', 7] });
    out.other_client_same_name = [y.rows[0].other, y.rows[0].i];

    // A transaction that rolls back leaves nothing behind.
    await a.query('BEGIN');
    await a.query('INSERT INTO js_t VALUES (100, $1, 0, now())', ['rolled back']);
    const inside = await a.query('SELECT count(*)::int AS c FROM js_t');
    await a.query('ROLLBACK');
    const after = await a.query('SELECT count(*)::int AS c FROM js_t');
    out.rollback_counts = [inside.rows[0].c, after.rows[0].c];

    // Errors: a server error rejects the query with the node's SQLSTATE; inside a transaction
    // the next statement is refused until ROLLBACK; the connection goes on.
    try {
      await a.query('SELECT 1 / $1::int', [0]);
      out.error_code = 'none';
    } catch (e) {
      out.error_code = e.code;
    }
    await a.query('BEGIN');
    try {
      await a.query({ name: 'dup', text: 'INSERT INTO js_t VALUES ($1, $2, 0, now())', values: [1, 'dup'] });
    } catch (e) {
      out.dup_code = e.code;
    }
    try {
      await a.query({ name: 'by_id', text: named.text, values: [1, 1] });
      out.aborted_code = 'none';
    } catch (e) {
      out.aborted_code = e.code;
    }
    await a.query('ROLLBACK');
    const z = await a.query({ name: 'by_id', text: named.text, values: [2, 21] });
    out.after_error = [z.rows[0].name, z.rows[0].twice];
  } finally {
    await a.end();
    await b.end();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
