/* The broadcast merge engine: the complete backend messages of N nodes answering the same
 * client batch go in, one well-formed reply for the client comes out. It owns the lockstep of
 * the nodes' replies, the RowDescription check, DataRow streaming (with an optional leading
 * "node" column), CommandComplete sums, ordered (k-way) and aggregate merges, LIMIT/OFFSET, and
 * the per-node failures (WARNING notices or one ErrorResponse). Pure: no I/O, no libuv, no
 * libpq; the fan-out (fanout/broadcast) reads the nodes and writes the client.
 *
 * One engine serves one batch ending in exactly one ReadyForQuery per node: a simple Query
 * (possibly several statements) or an extended-protocol run ending in one Sync. A pipeline with
 * several Syncs needs one engine per Sync, in order.
 *
 * Lockstep. Every node's reply is a sequence of units; the k-th unit of every node must match:
 *   RowDescription                       first node to send it: to the client (plus the node
 *                                        column); every other node's must be equal
 *                                        (pgr_be_rowdesc_equal) or that node fails (42804)
 *   DataRow* CommandComplete|PortalSuspended   a result set: rows stream (or merge), then one
 *                                        CommandComplete with the tags summed (pgr_tag_sum)
 *                                        once every live node has completed it
 *   ParseComplete, BindComplete, CloseComplete, NoData, ParameterDescription (must be equal),
 *   EmptyQueryResponse                   the first node's goes to the client, once
 *   ReadyForQuery                        the end; the client gets one, after every node's
 * A node that has completed unit k waits (pgr_merge_wants false) until every live node has.
 * A node whose unit differs from the first node's fails (42804, "replied X where pg1 replied
 * Y"). ParameterStatus goes to the client once per distinct (name, value); NotificationResponse
 * is passed on; a NoticeResponse is passed on with the node id before its message
 * ("pg2: relation "t" already exists, skipping"), one per node that sent it.
 *
 * Result sets and counts. A SELECT tag counts the rows the client received for that result
 * set (failed nodes' rows already streamed included; LIMIT applied); other tags are the sum of
 * the live nodes' tags ("UPDATE 12", "INSERT 0 5"). If any live node ends a result set with
 * PortalSuspended, the client gets PortalSuspended.
 *
 * The plan (NULL: concatenate everything) applies to the batch's first result set that follows
 * a RowDescription or carries rows; later result sets are concatenated, so give a plan only
 * for a batch with one row-returning statement. Ordered and aggregate merges need that
 * RowDescription (for the column types); without it, or when a sort/aggregate column's type
 * cannot be compared exactly (datum.h), or when the plan names a column the result lacks, the
 * rows are concatenated and one NOTICE says why. A sort key by name (SELECT * ... ORDER BY id:
 * mergeplan.h) is resolved against that RowDescription (the nodes' own, without the node
 * column): exactly one field of that name is the key's column; none or several is such a
 * NOTICE. LIMIT n OFFSET m apply to the merged stream
 * (the nodes must be asked for LIMIT n+m without OFFSET). In an ordered merge each node has at
 * most one buffered row; a node row that sorts before one already sent (a node that sorts in
 * another collation than the merge) or a value that does not parse as its type brings one
 * WARNING that the order is not guaranteed.
 *
 * Collations. Text keys (text, varchar, char(n), name) compare in the key's collation: the
 * plan's COLLATE when it names one, else name's "C", else the database's default collation,
 * which every live node must have reported alike (pgr_merge_node_collation) — else, and for
 * ICU or a locale this machine lacks, bytewise (datum.h: pgr_coll_t). A column's own collation
 * (CREATE TABLE t (x text COLLATE "C")) is not known here: such a column sorts in the
 * database's default, and the out-of-order WARNING tells when the nodes' order differs. The
 * collations are fixed at the result set's first comparison. min/max of text use the
 * database's default the same way. In an aggregate merge each node's one row is kept; count/sum add
 * exactly (int8 in text and binary; numeric as decimal text, and in binary as PostgreSQL's
 * sum(numeric) would send it: the larger dscale, canonical digits, NaN absorbing, +Infinity +
 * -Infinity NaN — fanout/numeric.h), min/max use the type's order (binary numeric included,
 * NaN above +Infinity), a tie going to the later node as PostgreSQL's min/max keep the later of
 * equal values (0.00 and 0.000), NULLs as SQL; anything else (a second row, a NULL count, an
 * overflow, a malformed value, a non-aggregate column that differs between nodes, sum of a
 * float) turns into concatenation with a NOTICE.
 *
 * Failures. A node fails by its ErrorResponse, by pgr_merge_fail, by replying differently
 * (42804), or by breaking the protocol (08P01; COPY: 0A000) and is then out of the batch: its
 * remaining messages are discarded until its ReadyForQuery. PGR_MERGE_WARN: every live node's
 * result continues; the client gets, before the next thing it receives, one NoticeResponse
 *   severity WARNING, SQLSTATE 01000,
 *   message "node pg2 (127.0.0.1:5433) failed: 23505 duplicate key value violates ..."
 *   detail  the node's own DETAIL, when it sent one.
 * PGR_MERGE_FAIL: from the first failure on nothing more of the batch reaches the client but
 * ParameterStatus; at the end comes one ErrorResponse with the first failed node's SQLSTATE,
 * the same message as the warning, and
 *   detail  "applied on: pg1, pg3; failed on: pg2 (23505 duplicate key value ...)"
 * ("applied on: none" when no node succeeded). In either mode, when every node fails, the
 * client gets that ErrorResponse; if they all failed with the same SQLSTATE and message, it
 * gets the first node's own ErrorResponse, once, as from one PostgreSQL. Then ReadyForQuery:
 * 'E' if any node that answered is 'E', else 'T' if any is 'T', else 'I'.
 *
 * Verify mode (plan->verify; merge_verify.c): nothing is merged. Every result set that has a
 * RowDescription or rows is answered with the RowDescription (node text, rows int8, hash text)
 * and, once every live node completed it, one DataRow per live node and "SELECT n"; a WARNING
 * (01000) before the rows names the nodes whose (rows, hash) differ from the majority's. A
 * node whose RowDescription or row width differs is not failed: its hash differs.
 *
 * Ownership: the engine copies node ids/addresses and the plan; it keeps nothing of the fed
 * bodies after pgr_merge_feed returns. Not thread-safe. */
#ifndef PGR_FANOUT_MERGE_H
#define PGR_FANOUT_MERGE_H

#include "core/base.h"
#include "protocol/writer.h"
#include "route/mergeplan.h"

typedef struct pgr_merge pgr_merge_t;

typedef struct pgr_merge_node {
    const char *id;   /* "pg2" */
    const char *addr; /* "host:port"; may be NULL */
} pgr_merge_node_t;

typedef enum { PGR_MERGE_WARN, PGR_MERGE_FAIL } pgr_merge_policy_t;

#define PGR_MERGE_MAX_NODES 1024

/* A new engine for one batch on n nodes (1 ≤ n ≤ PGR_MERGE_MAX_NODES). plan may be NULL
 * (concatenate). Returns 0, PGR_EINVAL (bad arguments or a plan out of its bounds) or
 * PGR_ENOMEM. */
int pgr_merge_new(const pgr_merge_plan_t *plan, int n, const pgr_merge_node_t *nodes,
                  pgr_merge_policy_t policy, bool node_column, pgr_merge_t **out) PGR_MUSTCHECK;
void pgr_merge_free(pgr_merge_t *m);

/* One complete backend message from node i (type and body as framed by protocol/frame.c),
 * fed only while pgr_merge_wants(m, i). Messages for the client are appended to out. A node
 * that breaks the protocol or replies differently is failed by the engine itself (0 is
 * returned). Errors: PGR_EBUSY (node i is waiting: the message was not consumed; feed it again
 * once wanted), PGR_EINVAL (node i is finished or failed for good, or the batch is done),
 * PGR_ENOMEM, or out's sticky error; after ENOMEM the message is dropped and the caller should
 * fail node i with pgr_merge_fail. */
int pgr_merge_feed(pgr_merge_t *m, int i, uint8_t type, const uint8_t *body, size_t len,
                   pgr_writer_t *out) PGR_MUSTCHECK;

/* Node i failed without an ErrorResponse of its own (timeout, disconnect, cannot connect);
 * sqlstate/message are pgrouter's (08006 "connection to node lost", 57014 timeout). Nothing
 * more is expected from node i (its connection must be closed). A node that already sent its
 * ReadyForQuery is not affected. Returns 0, PGR_ENOMEM or out's sticky error. */
int pgr_merge_fail(pgr_merge_t *m, int i, const char *sqlstate, const char *message,
                   pgr_writer_t *out);

/* The most a GROUP BY merge may hold (the nodes' groups, with their overhead) before it gives
 * up: the client then gets ERROR 54000 (program_limit_exceeded: a configured limit of
 * pgrouter's, not the machine out of memory) naming broadcast.merge_memory, after every node's
 * ReadyForQuery. Default PGR_MERGE_MEMORY_DEFAULT. Call before the first message is fed. */
#define PGR_MERGE_MEMORY_DEFAULT ((size_t)64 << 20)
void pgr_merge_set_memory(pgr_merge_t *m, size_t bytes);

/* Node i's database default collation as the node reported it (pg_database.datcollate;
 * provider: datlocprovider, 'c' libc or 'i' ICU); NULL name or provider 0: not known. Call
 * before node i's rows are fed. Returns 0 or PGR_ENOMEM. */
int pgr_merge_node_collation(pgr_merge_t *m, int i, const char *name,
                             char provider) PGR_MUSTCHECK;

/* Does a merge by this plan compare values (ORDER BY keys, min/max), so that the nodes'
 * default collation matters? */
bool pgr_merge_plan_compares(const pgr_merge_plan_t *plan);

/* Should the caller read (and feed) node i now? False while node i is ahead of the others,
 * while its buffered row waits in an ordered merge, and once it is finished or failed for
 * good. A node that failed with its own ErrorResponse stays wanted until its ReadyForQuery
 * (its messages are discarded) so its connection stays in sync. */
bool pgr_merge_wants(const pgr_merge_t *m, int i);

/* Every node reached ReadyForQuery or failed for good, and the final ReadyForQuery has been
 * appended to out. */
bool pgr_merge_done(const pgr_merge_t *m);

/* Node i's ReadyForQuery arrived in protocol order: its connection is in sync (and *status,
 * may be NULL, gets 'I', 'T' or 'E'). False for a node failed for good: close it. */
bool pgr_merge_node_synced(const pgr_merge_t *m, int i, uint8_t *status);

/* Per-node outcome (SHOW LAST_BROADCAST): ok, DataRows received, and for a failed node its
 * SQLSTATE and message (NULL when ok). The strings live as long as the engine. */
void pgr_merge_node_result(const pgr_merge_t *m, int i, bool *ok, uint64_t *rows,
                           const char **sqlstate, const char **message);

#endif
