/*
 * pg.h: the PostgreSQL backend's private header (the files of common/pg/,
 * the only files that include libpq-fe.h). One struct pg_conn is one
 * libpq connection with the statements it prepared, each at its first
 * use; their SQL sits beside the functions that run it, one table per
 * file, indexed by enum pg_sql, as in the SQLite backend. The operations
 * (pg_* below) fill sio_store_pg_ops (db.c) as store_ops.h describes.
 *
 * Concurrency: every write transaction takes siogate's advisory lock at
 * its begin (schema/pg.sql: siogate_lock()), so writers of every process
 * and host run one at a time, as SQLite's write lock makes them; reads
 * outside a write transaction take no lock. One write takes none: a done
 * and take outside any transaction (pg_outbox_done_take()), which locks
 * its session's row first and inserts nothing. It cannot deadlock with
 * a writer because every statement that locks a session's row and its
 * outbox's rows locks the session's first or only at its end (the
 * triggers on the outbox), and only a session's holder takes or deletes
 * the rows it took; a statement added later must keep to that. The SQL
 * is the SQLite backend's, statement for statement, with PostgreSQL's
 * spelling.
 */
#ifndef SIO_PG_H
#define SIO_PG_H

#include <libpq-fe.h>

#include "store_ops.h"

/*
 * A text column compared in a statement that finds its rows by sid (the
 * sessions' primary key, the outbox's (sid, seq)): written so that no
 * index of that column can serve the comparison. A prepared statement's
 * plan, chosen once when the tables were nearly empty, would otherwise
 * scan one holder's every session (sessions_holder) or one writer's every
 * taken row (outbox_taken) for one sid.
 */
#define PG_NOINDEX(col) " (" col " || '')"
#define PG_HOLDER_COL PG_NOINDEX("holder")
#define PG_TAKEN_BY PG_NOINDEX("taken_by")

/* The tick's reference: the transaction ids others may still commit
 * (pg_tick(), pg_watch()). */
#define PG_TICK_SQL "SELECT pg_snapshot_xmax(pg_current_snapshot())::text"
/* The sessions s of holder $1 whose first packet that a take would stop
 * at is one it passes (due at $2 and not taken): of those with any. */
#define PG_READY_WHERE                                                         \
	" s.holder = $1 AND s.queued > 0"                                      \
	" AND (SELECT o.taken_by IS NULL FROM outbox o"                        \
	" WHERE o.sid = s.sid AND ((o.taken_by IS NULL"                        \
	" AND o.due <= $2) OR (o.taken_by IS NOT NULL"                         \
	" AND (o.taken_by <> $1"                                               \
	" OR o.taken_conn IS DISTINCT FROM s.holder_conn)))"                   \
	" ORDER BY o.seq LIMIT 1)"

/* Every statement kept per connection; its SQL is in the file named. */
enum pg_sql {
	/* db.c */
	PG_TICK,
	PG_NOTIFY,
	/* session.c */
	PG_SESSION_NEW,
	PG_SESSION_GET,
	PG_SESSION_STATE,
	PG_ATTACH,
	PG_DETACH,
	PG_HELLO_SENT,
	PG_FORGET,
	PG_GONE,
	PG_HOLDER_STATE,
	PG_TOUCH,
	PG_END,
	PG_HOLDER,
	PG_PURGE,
	PG_CLEANUP,
	PG_LIVE_OF,
	/* timer.c */
	PG_HB,
	PG_GONE_DETACH,
	PG_GONE_HOLDERS,
	PG_GONE_RELEASE,
	PG_EXPIRED,
	PG_CLOCK_GET,
	PG_CLOCK_PUT,
	PG_CLOCK_SESSIONS,
	PG_CLOCK_OUTBOX,
	PG_CLOCK_SAMPLES,
	PG_CLOCK_PROCESSES,
	PG_PROC_LIST,
	PG_PROC_HOLDERS,
	PG_PROC_RELEASE,
	PG_PROC_PUT,
	PG_PROC_RENEW,
	PG_PROC_DEL,
	PG_PROC_DETACH,
	/* outbox.c */
	PG_PUT_CHECK,
	PG_PUT,
	PG_PUT_ONE,
	PG_BCAST,
	PG_PEEK,
	PG_TAKE,
	PG_TAKE_PAGE,
	PG_DONE_TAKE,
	PG_UNTAKE,
	PG_DROP_BAD,
	PG_TAKEN_DEL,
	PG_TAKEN_DEL_DETACH,
	PG_TAKEN_RELEASE,
	PG_NEXT_DUE,
	PG_READY,
	PG_WATCH,
	PG_DEL,
	PG_COUNT,
	PG_BRIDGE_PUT,
	PG_BRIDGE_COUNT,
	PG_BRIDGE_COUNT_ALL,
	PG_BRIDGE_FIRST,
	PG_BRIDGE_SCAN,
	PG_BRIDGE_MARK,
	PG_BRIDGE_DONE,
	PG_BRIDGE_RETRY,
	/* data.c */
	PG_EP_ADD,
	PG_EP_DEL,
	PG_EP_HAS,
	PG_EP_LIST,
	PG_DATA_GET,
	PG_DATA_PUT,
	PG_DATA_DEL,
	PG_ROOM_JOIN,
	PG_ROOM_LEAVE,
	PG_ROOM_LEAVE_ALL,
	PG_ACK_NEXT,
	PG_ACK_PUT,
	PG_ACK_TAKE,
	PG_ACK_GET,
	PG_COUNTER_ADD,
	PG_COUNTER_GET,
	PG_SAMPLE,
	/* ahead.c */
	PG_PRELUDE,
	PG_PRELUDE_EPS,
	PG_NSTMT
};

/* The statements' SQL, one sparse table per file. */
extern const char *const pg_db_sql[PG_NSTMT];
extern const char *const pg_session_sql[PG_NSTMT];
extern const char *const pg_timer_sql[PG_NSTMT];
extern const char *const pg_outbox_sql[PG_NSTMT];
extern const char *const pg_data_sql[PG_NSTMT];
extern const char *const pg_ahead_sql[PG_NSTMT];

/* Detaches: $1 now; a session in a state of the word list $2
 * (sio_store_words()) moves to state $3 with detached_at now; every one
 * loses its holder. */
#define PG_DETACH_FROM " strpos($2::text, ',' || state || ',') > 0"
#define PG_DETACH_SET                                                          \
	"UPDATE sessions SET state = CASE WHEN" PG_DETACH_FROM " THEN $3"      \
	" ELSE state END, detached_at = CASE WHEN" PG_DETACH_FROM              \
	" THEN $1::bigint ELSE detached_at END, holder = NULL,"                \
	" holder_conn = NULL"

/* The columns pg_session_row() reads, in its order. */
#define PG_SESSION_COLS                                                        \
	"state, transport, holder, holder_conn, created, last_recv,"           \
	" detached_at, closed_at, close_reason"

/* A session read ahead (ahead.c): its row, and its connected endpoints
 * (neps of them, each NUL-terminated, at eps in its connection's
 * ahead_eps); dropped once a statement wrote to it. */
struct pg_ahead {
	char sid[SIO_SID_LEN + 1];
	char holder[SIO_HOLDER_LEN];
	int state, held, has_conn, has_eps, dropped;
	long long queued, conn, last_recv;
	size_t eps, neps;
};

/* A connection: st->be. */
struct pg_conn {
	PGconn *db;
	unsigned char prepared[PG_NSTMT];
	int max_queue;
	long long changes; /* rows the last command changed */
	long long xmax;    /* the tick's reference, -1 before the first */
	int sync;          /* enum sio_sync, for the settings of a reconnect */
	int busy_ms;       /* the busy timeout: lock_timeout */
	int in_tx;         /* a transaction was begun and not yet ended */
	/* commands of the transaction not sent yet (BEGIN, the lock, the
	 * savepoints), sent with its next statement in one round trip;
	 * sent: its BEGIN has gone to the server */
	const char *pend[8];
	int npend, sent;
	/* the savepoints open, and for each level whether it shares the
	 * savepoint of the level around it (nothing ran between the two:
	 * one SAVEPOINT serves both) */
	int depth;
	unsigned char shared[32];
	/* the next delayed packet's due a take read, valid until the next
	 * statement (pg_outbox_next_due()) */
	int due_set, due_absent;
	long long due, due_now;
	char due_sid[SIO_SID_LEN + 1];
	/* the sessions read ahead, sorted by sid (ahead.c) */
	struct pg_ahead *ahead;
	int nahead;
	size_t ahead_cap, ahead_eps_cap;
	char *ahead_eps;
	/* a prelude not sent yet (in pend[] as PG_AHEAD_PEND): its
	 * statement (enum pg_sql) and name, its list of sids */
	int ahead_pend, ahead_id;
	char ahead_name[16];
	char *ahead_list;
};

#define PGC(st) ((struct pg_conn *)(st)->be)

/* --- db.c: statements and helpers ------------------------------------ */

/* Connects to the database of the URI path, with TCP keepalives on both
 * sides (a silent host is found within seconds) and application_name
 * appname unless the URI names one. NULL only out of memory; else check
 * PQstatus(). */
PGconn *pg_connect(const char *path, const char *appname);

/*
 * Runs statement id (prepared at its first use) with its parameters in
 * order: 't' a C string (NULL: NULL), 'b' a string and its size_t
 * length, 'i' a long long. Returns the result (PQclear() it), or NULL
 * with the error recorded. PGC(st)->changes: the rows it changed.
 */
PGresult *pg_exec(struct sio_store *st, enum pg_sql id, const char *types, ...);
/* pg_exec() for a statement run once (the rare ones), not prepared. */
PGresult *pg_adhoc(struct sio_store *st, const char *sql, const char *types,
                   ...);
/* Runs a statement whose rows are not read: SIO_OK or SIO_ERR. */
int pg_run(struct sio_store *st, enum pg_sql id, const char *types, ...);
/* Reads column 0 of the first row as an integer: SIO_OK, SIO_ABSENT
 * when there is no row or it is NULL, SIO_ERR. */
int pg_one(struct sio_store *st, long long *out, enum pg_sql id,
           const char *types, ...);
/* pg_run() in a transaction of its own when the caller has none. */
int pg_write(struct sio_store *st, enum pg_sql id, const char *types, ...);
/* A column: NULL when NULL; an integer (0 when NULL); whether NULL. */
const char *pg_text(const PGresult *r, int row, int col);
long long pg_int(const PGresult *r, int row, int col);
int pg_null(const PGresult *r, int row, int col);
/* A state (closed when unknown) or transport (-1) column. */
int pg_state(const PGresult *r, int row, int col);
int pg_transport(const PGresult *r, int row, int col);
/* Queues a ring for the holder in column 1 of each row of r (the sid in
 * column 0), then clears r; SIO_ERR for r NULL. */
int pg_ring_rows(struct sio_store *st, PGresult *r);
/* Copies a text column, NULL staying NULL; *failed set when out of
 * memory. */
char *pg_dup(const PGresult *r, int row, int col, int *failed);

/* --- ahead.c: the read-ahead ---------------------------------------- */

/* The place of a deferred prelude in pend[] (pointer compared). */
extern const char PG_AHEAD_PEND[];
/* Defers statement id with the list (a PostgreSQL array literal, kept
 * by the caller until the prelude is sent or forgotten) to the
 * transaction's next round trip: a prelude (ahead.c), whose rows
 * pg_ahead_fill() reads when they come. */
int pg_defer_prelude(struct sio_store *st, enum pg_sql id);
/* Sends what the transaction deferred, with no statement of its own. */
int pg_flush(struct sio_store *st);
/* The rows of a prelude's result into the entries. */
int pg_ahead_fill(struct sio_store *st, const PGresult *r);

/* The entry of sid read ahead and not written since, or NULL. */
const struct pg_ahead *pg_ahead_find(struct sio_store *st, const char *sid);
/* Whether endpoint is among a's connected ones. */
int pg_ahead_endpoint(struct sio_store *st, const struct pg_ahead *a,
                      const char *endpoint);
/* Once statement id (-1: one not prepared) ran with its n parameters
 * (types and values as pg_exec()'s): forgets what it may have changed. A
 * prelude sent in its round trip read the rows before it ran. */
void pg_ahead_forget(struct sio_store *st, int id, int n, const char *types,
                     const char *const *val);
/* The entry of sid, for the caller of a statement that changed it (its
 * AHEAD_MENDED in ahead.c) to mend; NULL when none. */
struct pg_ahead *pg_ahead_mend(struct sio_store *st, const char *sid);
/* Forgets every entry (a transaction's end); frees them (the close). */
void pg_ahead_clear(struct sio_store *st);
void pg_ahead_free(struct sio_store *st);

/* --- the operations (store_ops.h), by file --------------------------- */

/* listen.c: the doorbells between hosts */
int pg_notify(struct sio_store *st, const char *holder, const char *sids);
void *pg_listen(const char *path, const char *holder, const char *run_dir,
                char *err);
void pg_unlisten(void *listener);
/* session.c */
void pg_session_row(const PGresult *r, int row, int col,
                    struct sio_store_session *out);
int pg_ring_holder(struct sio_store *st, const char *sid);
int pg_session_new(struct sio_store *st, const char *sid, const char *request,
                   long long now);
int pg_sessions_live(struct sio_store *st, const char *remote, int max,
                     int *all, int *of_remote);
int pg_session_get(struct sio_store *st, const char *sid,
                   struct sio_store_session *out);
int pg_session_state(struct sio_store *st, const char *sid,
                     long long *last_recv);
int pg_holder_state(struct sio_store *st, const char *sid, const char *holder,
                    long long conn);
int pg_attach(struct sio_store *st, const char *sid, int transport,
              const char *holder, long long conn, long long now, int *hello,
              unsigned from, int to, int fenced);
int pg_detach(struct sio_store *st, const char *sid, const char *holder,
              long long conn, long long now, unsigned from, int to);
int pg_hello_sent(struct sio_store *st, const char *sid, int sent);
int pg_touch(struct sio_store *st, const char *sid, long long now);
int pg_session_end(struct sio_store *st, const char *sid, const char *reason,
                   long long now, unsigned from, int to);
int pg_session_forget(struct sio_store *st, const char *sid);
int pg_session_gone(struct sio_store *st, const char *sid);
int pg_session_purge(struct sio_store *st, const char *sid);
int pg_cleanup(struct sio_store *st, long long before);
/* timer.c: the timers and the processes */
int pg_heartbeat_due(struct sio_store *st, long long now, long long interval_ms,
                     const char *holder, long long others_late_ms, int state,
                     unsigned transports);
int pg_expired(struct sio_store *st, long long now,
               const struct sio_store_expiry *e, char (*sids)[SIO_SID_LEN + 1],
               int *states, int max);
int pg_clock_check(struct sio_store *st, const char *boot, long long wall,
                   long long mono, long long *step);
int pg_process_register(struct sio_store *st, const char *name, int pid,
                        long long now);
int pg_process_unregister(struct sio_store *st, const char *name, long long now,
                          unsigned from, int to);
int pg_process_renew(struct sio_store *st, const char *name, long long now);
int pg_reap(struct sio_store *st, long long now, long long lease_ms,
            unsigned from, int to);
/* outbox.c: the outbox and the bridge's queue */
int pg_outbox_room(struct sio_store *st, const char *sid, int *room,
                   int *attached, long long *last_recv);
int pg_outbox_target(struct sio_store *st, const char *sid, int flags,
                     char holder[SIO_HOLDER_LEN], long long *conn,
                     long long *queued);
int pg_outbox_insert(struct sio_store *st, const char *sid, const char *pkt,
                     size_t len, long long due);
int pg_outbox_put(struct sio_store *st, const char *sid, const char *pkt,
                  size_t len, int flags, long long due,
                  char holder[SIO_HOLDER_LEN]);
int pg_outbox_broadcast(struct sio_store *st, const char *endpoint,
                        const char *room, const char *exclude_sid,
                        const char *pkt, size_t len, int flags, long long due);
int pg_outbox_peek(struct sio_store *st, const char *sid, long long now,
                   size_t max, const char *holder, long long conn,
                   int (*fn)(void *udata, const char *pkt, size_t len),
                   void *udata, long long *last_seq, int *blocked);
int pg_outbox_take(struct sio_store *st, const char *sid, long long now,
                   size_t max, const char *holder, long long conn,
                   int (*fn)(void *udata, const char *pkt, size_t len),
                   void *udata, int *blocked, int *dropped);
int pg_outbox_done_take(struct sio_store *st, const char *sid, long long now,
                        size_t max, const char *holder, long long conn,
                        int done,
                        int (*fn)(void *udata, const char *pkt, size_t len),
                        void *udata, int *state, int *blocked, int *more);
int pg_outbox_done_detach(struct sio_store *st, const char *sid,
                          const char *holder, long long conn, long long now,
                          unsigned from, int to);
int pg_outbox_done(struct sio_store *st, const char *sid, const char *holder,
                   long long conn);
int pg_outbox_release(struct sio_store *st, const char *sid, const char *holder,
                      long long conn);
int pg_outbox_del(struct sio_store *st, const char *sid, long long now,
                  long long last_seq);
int pg_outbox_next_due(struct sio_store *st, const char *sid, long long now,
                       long long *due);
int pg_outbox_count(struct sio_store *st, const char *sid);
int pg_watch(struct sio_store *st, const char *holder, long long now,
             void (*fn)(void *udata, const char *sid), void *udata);
int pg_outbox_ready(struct sio_store *st, const char *holder, long long now,
                    void (*fn)(void *udata, const char *sid), void *udata);
int pg_bridge_put(struct sio_store *st, const char *sid, const char *body,
                  size_t len, long long now, int max);
int
pg_bridge_take(struct sio_store *st, const char *sid, const char *taker,
               long long now, long long lease_ms, long long grace_ms, int max,
               void (*fn)(void *udata, const struct sio_store_bridge_event *e),
               void *udata);
int pg_bridge_done(struct sio_store *st, const char *sid, long long seq,
                   const char *taker);
int pg_bridge_retry(struct sio_store *st, const char *sid, long long seq,
                    const char *taker, long long next_at);
int pg_bridge_count(struct sio_store *st, const char *sid, long long *n);
/* ahead.c */
int pg_prelude(struct sio_store *st, const char *const *sids, int n,
               int endpoints);
/* data.c: endpoints, data, rooms, acks, counters, listings, stats */
int pg_endpoint_add(struct sio_store *st, const char *sid, const char *endpoint,
                    const char *query);
int pg_endpoint_del(struct sio_store *st, const char *sid,
                    const char *endpoint);
int pg_endpoint_has(struct sio_store *st, const char *sid,
                    const char *endpoint);
int pg_endpoint_list(struct sio_store *st, const char *sid,
                     void (*fn)(void *udata, const char *endpoint,
                                const char *query),
                     void *udata);
char *pg_data_get(struct sio_store *st, const char *sid, const char *key);
int pg_data_put(struct sio_store *st, const char *sid, const char *key,
                const char *value);
int pg_room_join(struct sio_store *st, const char *sid, const char *endpoint,
                 const char *room);
int pg_room_leave(struct sio_store *st, const char *sid, const char *endpoint,
                  const char *room);
long long pg_ack_new(struct sio_store *st, const char *sid,
                     const char *endpoint, const char *handler,
                     const char *event);
int pg_ack_get(struct sio_store *st, const char *sid, const char *endpoint,
               long long id, char **handler, char **event);
int pg_ack_take(struct sio_store *st, const char *sid, const char *endpoint,
                long long id, char **handler, char **event);
int pg_counter_add(struct sio_store *st, const char *name, long long delta);
int pg_counter_get(struct sio_store *st, const char *name, long long *value);
int pg_session_list(struct sio_store *st, const char *sid,
                    int (*fn)(void *udata, const struct sio_store_summary *s),
                    void *udata);
int pg_room_list(struct sio_store *st, const char *sid,
                 void (*fn)(void *udata, const char *endpoint,
                            const char *room),
                 void *udata);
int pg_process_list(struct sio_store *st,
                    int (*fn)(void *udata, const struct sio_store_process *p),
                    void *udata);
int pg_counter_list(struct sio_store *st,
                    void (*fn)(void *udata, const char *name, long long value),
                    void *udata);
int pg_session_counts(struct sio_store *st,
                      void (*fn)(void *udata, enum sio_session_state state,
                                 int transport, long long sessions,
                                 long long queued),
                      void *udata);
int pg_cleanup_drained(struct sio_store *st);
int pg_stats(struct sio_store *st, struct sio_store_stats *out);
int pg_stats_sample(struct sio_store *st, long long now);

#endif
