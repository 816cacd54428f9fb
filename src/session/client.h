/* Client sessions: one pgr_client_t per accepted connection, from the startup packet through
 * authentication to relaying statements on pooled server connections, until it closes.
 *
 *   STARTUP ─► AUTH ─► LOGIN ─► IDLE ⇄ WAITING ─► LINKED ─► IDLE ...      (any) ─► CLOSING
 *
 * STARTUP reads the untyped startup forms (an SSLRequest is answered 'S' and the connection
 * turns TLS when tls is configured, else 'N'; GSSENCRequest gets 'N'; a CancelRequest is
 * handled and the connection closed); auth.hba_file, when set, decides who may go on and with
 * which method. AUTH runs trust/md5/SCRAM/password (session/auth). LOGIN (session/login)
 * borrows a server connection of the target node to learn the server's ParameterStatus values
 * (and to surface the node's own FATAL errors, such as an unknown database); it waits for a
 * node still connecting, and with no node reachable it is answered without one. IDLE has no
 * server connection (transaction mode between transactions); WAITING has asked the pool for one;
 * LINKED relays bytes both ways on one (session/relay.c); BROADCAST runs a statement on every
 * healthy node and merges their replies (session/multi.c). A session in session mode, or
 * pinned, stays LINKED while idle; a broadcast that opened a transaction stays BROADCAST.
 *
 * Ownership: the runtime's client list owns every client; the client owns its conn (embedded),
 * its timers and its auth state, and borrows its server connection from the pool between
 * acquire and release. Memory is freed only when the conn and both timers have closed. */
#ifndef PGR_SESSION_CLIENT_H
#define PGR_SESSION_CLIENT_H

#include <uv.h>

#include "core/base.h"
#include "core/list.h"
#include "core/runtime.h"
#include "net/conn.h"
#include "pgrouter/cluster.h"
#include "protocol/becheck.h"
#include "protocol/frame.h"
#include "protocol/writer.h"
#include "route/router.h"
#include "net/iobuf.h"
#include "session/auth.h"
#include "session/notify.h"
#include "session/state.h"

#define PGR_CLIENT_STATE_MAP(X) \
    X(STARTUP, "startup")       \
    X(AUTH, "auth")             \
    X(LOGIN, "login")           \
    X(IDLE, "idle")             \
    X(WAITING, "waiting")       \
    X(LINKED, "linked")         \
    X(BROADCAST, "broadcast")   \
    X(CLOSING, "closing")

typedef enum pgr_client_state {
#define PGR_CLIENT_STATE_ENUM(name, text) PGR_CLIENT_##name,
    PGR_CLIENT_STATE_MAP(PGR_CLIENT_STATE_ENUM)
#undef PGR_CLIENT_STATE_ENUM
} pgr_client_state_t;

/* What the server → client scanner knows about the message it is in the middle of. Messages
 * stream through in pieces; only the header and the bodies of the few types the relay must
 * understand (ReadyForQuery, ParameterStatus, ErrorResponse, NoticeResponse) are collected.
 * Every header is framed and the bodies protocol/becheck knows are checked as they pass. */
typedef struct pgr_scan {
    uint8_t hdr[5];
    uint8_t hdr_len;     /* 0..5 header bytes collected */
    uint8_t type;
    uint32_t remaining;  /* body bytes of the current message still to come */
    uint16_t body_len;   /* bytes of a collected body */
    bool collect;        /* collecting this body (it fits in body[]) */
    bool drop;           /* this message answers our preamble: not forwarded */
    bool ours;           /* it answers a Parse / Close pgrouter added (pgr_expect_t) */
    bool bad;            /* the server broke the protocol: check.reason says how */
    pgr_becheck_t check; /* every header and the bodies becheck knows are checked */
    char body[512];
} pgr_scan_t;

/* A ParseComplete or CloseComplete the relay waits for, in the order the Parse / Close went to
 * the server. Those pgrouter added itself (a statement prepared on demand before the client's
 * Bind or Describe of it, the close of one evicted from the connection) are cut out of the
 * client's stream; an ErrorResponse ends every one of its segment (the server skips to Sync). */
typedef struct pgr_expect {
    uint64_t key;  /* the statement a Parse prepares (client id << 32 | seq), or 0 */
    uint32_t seg;  /* sync points (Query, Sync, FunctionCall) sent before it */
    uint8_t type;  /* '1' or '3' */
    bool ours;     /* pgrouter's own message: its reply is not forwarded */
} pgr_expect_t;

/* A unit of pgrouter's own on the client's server connection: one Query, or messages ending
 * in a Sync, whose replies are cut out of the client's stream (the preamble, a held BEGIN, the
 * read-your-writes LSN query, the startup values after a DISCARD ALL). */
typedef struct pgr_unit {
    uint64_t key;   /* the statement it prepares (its Parse), or 0 */
    uint32_t seg;   /* its segment: its replies come while seg_done equals it */
    bool report;    /* its ParameterStatus messages go to the client */
} pgr_unit_t;

/* A change to the client's session that waits for the server's confirmation (session/carry). */
typedef struct pgr_carry_change {
    uint32_t seg;   /* the segment whose ReadyForQuery confirms it */
    uint8_t kind;   /* 'A' append text to extras, 'R' replace extras by text, 'D' DISCARD ALL */
    char *text;     /* owned; NULL for an empty replacement */
} pgr_carry_change_t;

/* Unsent output to a client above which its server side (a relayed connection, or a
 * broadcast's node connections) is no longer read, until the client has taken some. */
#define PGR_CLIENT_OUT_HIGH (512 * 1024)

typedef struct pgr_client {
    pgr_conn_t conn;             /* embedded: the client's socket and buffers */
    pgr_runtime_t *rt;
    pgr_list_t link;             /* in rt->clients */
    pgr_client_state_t state;
    uint64_t id;                 /* accept sequence number, for logs */
    uv_timer_t timer;            /* login timeout */
    uv_timer_t wait_timer;       /* session/login: the end of a wait for a node's first health
                                    result, or a nudge to look again (a node's health changed) */
    uv_timer_t tmo_timer;        /* session/timeout: query_timeout or idle_transaction_timeout */
    int tmo_kind;                /* what tmo_timer is armed for (pgr_tmo_kind_t), 0: nothing */
    uint64_t last_request_ms;    /* loop time of the client's last message relayed to a server */
    uint64_t await_deadline;     /* loop time that wait ends, or 0: not waiting */
    uint64_t await_resume;       /* while a waiting session is dispatched again: its deadline */
    int handles_open;            /* conn + timer + wait_timer + tmo_timer: freed at 0 */
    bool refuse;                 /* over max_clients: refuse after the startup packet, unless
                                    it is an admin-console login and a reserved slot is free */
    bool reserved;               /* holds one of admin.reserved_connections (rt->n_reserved) */
    bool direct_tls;             /* began with a TLS ClientHello, no SSLRequest (PostgreSQL 17) */

    /* From the StartupMessage. */
    char *user, *database, *application_name, *client_encoding;
    char *startup_params;        /* name\0value\0 ... \0 as the client sent them */
    size_t startup_params_len;
    pgr_auth_t auth;
    bool auth_begun;
    pgr_auth_method_t auth_method; /* the exchange chosen for it (auth.method or its hba line) */
    struct pgr_dbauth_req *dbauth_req; /* a password check or auth.query lookup in flight */
    int32_t cancel_pid, cancel_key;
    uint32_t unreported;         /* login answered with no server: the reported settings (bit i
                                    of session/login's list) the client has not been told yet */

    /* The server side. */
    const char *node_id;         /* target of the current transaction (owned by cluster) */
    char node_id_buf[PGR_NODE_ID_MAX];
    pgr_server_t *srv;           /* lent by the pool while LINKED (or LOGIN) */
    pgr_acquire_t *acq;          /* pending acquire while WAITING / LOGIN */
    void (*acquired)(struct pgr_client *cl, int status, pgr_server_t *srv, const char *errmsg);
    pgr_iobuf_t to_srv;          /* preamble and rewritten messages for srv; written before fwd */
    size_t fwd;                  /* bytes at the front of conn's input that are accounted for
                                    and must be written to srv (after to_srv) */
    uint32_t swallow;            /* ReadyForQuery replies to our preamble still to come */
    pgr_unit_t *units;           /* what each of them answers, FIFO */
    size_t n_units, cap_units, units_done;
    bool unit_failed;            /* the unit being answered got an ErrorResponse */
    pgr_expect_t *expect;        /* transaction mode: Parse / Close replies to come, FIFO */
    size_t expect_head, expect_len, expect_cap;
    uint32_t seg_sent, seg_done; /* sync points sent to srv / ReadyForQuery received */
    bool seg_failed;             /* an ErrorResponse came in the segment being answered */
    pgr_carry_change_t *changes; /* session changes waiting for their segment (carry.c) */
    size_t n_changes, cap_changes;
    bool login_preamble;         /* the preamble is the login's: its error is the client's */
    char preamble_sqlstate[6];   /* first error a preamble got, or "" */
    char preamble_error[200];
    uint32_t pending_syncs;      /* Query / Sync / FunctionCall sent, ReadyForQuery not seen */
    bool unsynced;               /* extended-protocol messages sent since the last Sync */
    bool srv_read_paused;        /* client output is full: server not read */
    bool srv_write_blocked;      /* srv took part of fwd; waiting for writability */
    bool srv_ended;              /* srv sent the client why it ends the session (a FATAL
                                    ErrorResponse, a 57xxx notice such as a crash's) */
    bool pinned;                 /* state that cannot move: keep srv until the client goes */
    const char *pin_reason;
    bool rewrite;                /* transaction mode: named statements get pgrouter's names */
    pgr_params_t want;           /* the reported settings the client has (ParameterStatus) */
    char *extras;                /* its startup settings as SET statements, or NULL */
    pgr_stmts_t stmts;           /* its named prepared statements */

    /* Routing (session/dispatch.c). */
    bool admin;                  /* an admin-console session (database "pgrouter") */
    pgr_admin_session_t admin_sess; /* its state between commands (LISTEN) */
    bool admin_busy;             /* answering a command: notifications wait for its reply */
    pgr_notify_queue_t notify;   /* LISTEN pgrouter_events: events not yet delivered */
    pgr_session_route_t route;   /* SET pgrouter.route */
    char route_node[PGR_NODE_ID_MAX];
    bool node_column;            /* SET pgrouter.node_column (broadcast) */
    bool bcast_verify;           /* SET pgrouter.broadcast = 'verify': reads are broadcast and
                                    verified (session/multi.c) */
    bool bcast_lsn;              /* SET pgrouter.broadcast_consistency = 'lsn' */
    char bcast_wait[24];         /* the primary's WAL position the broadcast about to start
                                    waits for on each node ("" none; session/consistent.c) */
    char bcast_probe_err[200];   /* why it could not be taken */
    bool held_begin;             /* a lone BEGIN answered by us, sent with the next statement */
    bool held_read_only;
    bool held_failed;            /* an error pgrouter raised aborted the held transaction:
                                    only its ROLLBACK (or COMMIT) is taken, as on a server */
    uint8_t *held_msg;           /* the held BEGIN's Query message */
    size_t held_len;
    bool txn_read;               /* the current transaction was routed as a read */
    uint64_t ryw_lsn;            /* read-your-writes: WAL position of the last write's commit */
    bool ryw_capture;            /* our pg_current_wal_insert_lsn() query is in flight */
    pgr_stmt_class_t unnamed_cls; /* class of the last unnamed Parse */
    uint8_t *unnamed_parse;      /* the last unnamed Parse's body, to prepare it again on another
                                    server connection (psql's \gdesc: Parse, Sync, Describe) */
    size_t unnamed_parse_len;
    bool unnamed_here;           /* the linked server connection has it */
    pgr_route_t last_route;
    struct pgr_bcast *bcast;     /* a broadcast in flight (state BROADCAST), session/multi.c */
    pgr_stmt_seqs_t bcast_need;  /* statements the batch uses but does not parse (multi.c) */
    pgr_stmt_seqs_t bcast_defs;  /* statements the batch parses */
    bool bcast_aborted;          /* the broadcast's transaction failed here (multi.c) */
    uint8_t *bcast_begin;        /* a held BEGIN the broadcast's connections start with */
    size_t bcast_begin_len;
    struct pgr_multi_result *last_bcast; /* SHOW pgrouter.last_broadcast */
    int n_last_bcast;
    char txn;                    /* last ReadyForQuery status: 'I', 'T', 'E' */
    pgr_scan_t scan;
} pgr_client_t;

const char *pgr_client_state_name(pgr_client_state_t s);

/* The one way a session changes state: a move the state table allows (staying put is always
 * allowed) happens and returns true; any other is logged as an error and refused, leaving the
 * state as it was. */
bool pgr_client_set_state(pgr_client_t *cl, pgr_client_state_t s);
/* The table itself: may a session in state from go to state to? */
bool pgr_client_transition_allowed(pgr_client_state_t from, pgr_client_state_t to);
/* The state table's handlers, the one way the modules below client (login, dispatch, multi,
 * consistent, relay, link, cancel) call back up into the session: what its state does with
 * the input it has, and with a CancelRequest for it. */
void pgr_client_input(pgr_client_t *cl);
void pgr_client_cancel(pgr_client_t *cl);

/* Accept one waiting connection from server into a new session. Never fails the listener: an
 * error is logged and the connection dropped. */
void pgr_client_accept(pgr_runtime_t *rt, uv_stream_t *server);

/* Close the session: releases or closes its server connection, unregisters its cancel key,
 * closes its handles; memory is freed when they are closed. Idempotent. */
void pgr_client_close(pgr_client_t *cl, const char *why);

/* Queue a pgrouter_events notification (payload: JSON text, copied) for an admin session.
 * It goes out at once when the session is between commands and its client reads its output;
 * else after the reply of the command it is answering (before its ReadyForQuery), or when
 * the client has taken its pending output. Bounded as session/notify.h says. */
void pgr_client_notify(pgr_client_t *cl, const char *payload);

/* Send an ErrorResponse (or NoticeResponse when severity is "NOTICE"/"WARNING") to the client.
 * FATAL ones close the session after the bytes are flushed. */
void pgr_client_send_error(pgr_client_t *cl, const char *severity, const char *sqlstate,
                           const char *detail, const char *fmt, ...) PGR_PRINTF(5, 6);

/* Append the messages a writer encoded to the client's output. A writer that failed (its sticky
 * error set) is a bug or an allocation failure: it is logged and the session closed, so the
 * client never waits for a reply that was lost. An output that would overflow closes it too.
 * The writer stays the caller's. */
void pgr_client_send_writer(pgr_client_t *cl, pgr_writer_t *w);

/* The client sent a frame pgr_frame_next() called PGR_FRAME_BAD: count a protocol error and
 * end the session with FATAL (f's SQLSTATE, else 08P01) and f's reason, else fallback. */
void pgr_client_bad_frame(pgr_client_t *cl, const pgr_frame_t *f, const char *fallback);

/* Queue a ReadyForQuery with the given status. */
void pgr_client_send_ready(pgr_client_t *cl, char status);

/* Start the authentication exchange for the user u (NULL: not known, which fails as an
 * unknown user does, or is refused at once under trust with a users list). */
void pgr_client_auth_begin(pgr_client_t *cl, const pgr_user_config_t *u);
/* Send what the exchange produced for verdict (a pgr_auth_* result or a PGR_E* code) and act on
 * it: the next request, FATAL, a password check (VERIFY), or the login. For the steps that end
 * on a later loop iteration (dbauth) as for those read from the client. */
void pgr_client_auth_result(pgr_client_t *cl, int verdict, const pgr_auth_out_t *out);
/* The node's FATAL message from a libpq connection failure (errmsg) into msg, and its
 * SQLSTATE as far as the text tells (28P01 bad password, 28000 no role, 3D000 no database,
 * 53300 too many connections, else 08006). */
const char *pgr_client_node_fatal(const char *errmsg, char *msg, size_t cap);

/* The login preamble finished (sqlstate NULL: fine): report the server's settings, the cancel
 * key and ReadyForQuery, or end the session with the error. */
void pgr_client_login_done(pgr_client_t *cl, const char *sqlstate, const char *message);

/* Shutdown: every session gets FATAL 57P01 with why and is closed — except, unless force, those
 * in the middle of a transaction, which the relay closes when it ends. */
void pgr_client_close_all(pgr_runtime_t *rt, const char *why, bool force);

#endif
