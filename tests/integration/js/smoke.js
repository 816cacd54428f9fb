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

// Open a transaction on `holder` until it runs on server connection `pid` (a transaction that
// lands elsewhere ends at once, so the pool cycles through its idle connections whatever order it
// hands them out in, and never grows); while the holder keeps it, the next client gets another
// one. The caller COMMITs the holder.
async function takeServer(holder, pid) {
  for (let i = 0; i < 50; i++) {
    await holder.query('BEGIN');
    const r = await holder.query('SELECT pg_backend_pid() AS pid');
    if (r.rows[0].pid === pid)
      return;
    await holder.query('COMMIT');
  }
  throw new Error(`the holder never got server connection ${pid}`);
}

async function main() {
  const out = {};
  const a = new Client(cfg);
  const b = new Client(cfg);
  const holder = new Client(cfg);
  for (const c of [a, b, holder])
    await c.connect();
  try {
    await a.query('DROP TABLE IF EXISTS js_t');
    await a.query('CREATE TABLE js_t (id int PRIMARY KEY, name text, n numeric, at timestamptz)');

    // Parameterised queries (unnamed statements): types, unicode, NULL.
    for (let i = 1; i <= 20; i++)
      await a.query('INSERT INTO js_t VALUES ($1, $2, $3, $4)',
                    [i, `zeile-${i}-ü✓`, i % 5 === 0 ? null : i / 8, new Date(Date.UTC(2024, 0, i))]);
    const r = await a.query('SELECT id, name, n, at FROM js_t WHERE id = ANY($1) ORDER BY id', [[3, 5]]);
    out.param_rows = r.rows.map((x) => [x.id, x.name, x.n, x.at.toISOString()]);

    // A named statement: the driver parses it once per client and then only binds it. In odd
    // rounds the server connection a used last is held by another client (takeServer), so a's
    // statement meets a server connection that has not seen it and pgrouter must prepare it there.
    const named = { name: 'by_id', text: 'SELECT pg_backend_pid() AS pid, name, $2::int * 2 AS twice FROM js_t WHERE id = $1' };
    let namedOk = 0, moved = 0, last = null;
    for (let round = 0; round < 20; round++) {
      if (round % 2 === 1)
        await takeServer(holder, last);
      await a.query('BEGIN');
      const x = await a.query({ ...named, values: [round % 20 + 1, round] });
      await a.query('UPDATE js_t SET n = coalesce(n, 0) + 1 WHERE id = $1', [round % 20 + 1]);
      await a.query('COMMIT');
      if (round % 2 === 1)
        await holder.query('COMMIT');
      if (round % 2 === 1 && x.rows[0].pid !== last)
        moved++;
      last = x.rows[0].pid;
      if (x.rows.length === 1 && x.rows[0].name === `zeile-${round % 20 + 1}-ü✓` && x.rows[0].twice === round * 2)
        namedOk++;
    }
    out.named_ok = namedOk;
    out.named_moved = moved;
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
    for (const c of [a, b, holder])
      await c.end();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
