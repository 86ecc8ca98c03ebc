/*
 * sqlite.h: the SQLite backend's private header (the files of common/sqlite/,
 * the only files that include sqlite3.h). One struct sqlite_conn is one SQLite
 * connection with its statements, each prepared at its first use and kept;
 * the statements' SQL sits beside the functions that run it, one table per
 * file, indexed by enum sqlite_sql. The operations (sqlite_* below) fill
 * sio_store_sqlite_ops (db.c) as store_ops.h describes them.
 */
#ifndef SIO_SQLITE_H
#define SIO_SQLITE_H

#include <sqlite3.h>

#include "store_ops.h"

/* Every statement kept per connection; its SQL is in the file named. */
enum sqlite_sql {
	/* db.c */
	SQL_BEGIN,
	SQL_BEGIN_READ,
	SQL_UPGRADE,
	SQL_COMMIT,
	SQL_ROLLBACK,
	SQL_SAVEPOINT,
	SQL_ROLLBACK_TO,
	SQL_RELEASE,
	/* wal.c */
	SQL_DATA_VERSION,
	/* session.c */
	SQL_SESSION_NEW,
	SQL_SESSION_GET,
	SQL_SESSION_STATE,
	SQL_ATTACH_GET,
	SQL_ATTACH,
	SQL_DETACH,
	SQL_HELLO_SENT,
	SQL_FORGET,
	SQL_GONE,
	SQL_HOLDER_STATE,
	SQL_TOUCH,
	SQL_END,
	SQL_HOLDER,
	SQL_HOLDER_OTHER,
	SQL_PURGE_ENDPOINTS,
	SQL_PURGE_ROOMS,
	SQL_PURGE_DATA,
	SQL_PURGE_ACKS,
	SQL_CLEANUP,
	SQL_LIVE_OF,
	/* timer.c */
	SQL_HB_SELECT,
	SQL_HB_INSERT,
	SQL_HB_UPDATE,
	SQL_GONE_DETACH,
	SQL_GONE_HOLDERS,
	SQL_GONE_RELEASE,
	SQL_EXPIRED,
	SQL_CLOCK_GET,
	SQL_CLOCK_PUT,
	SQL_CLOCK_SESSIONS,
	SQL_CLOCK_OUTBOX,
	SQL_CLOCK_SAMPLES,
	SQL_CLOCK_PROCESSES,
	/* outbox.c */
	SQL_PUT_CHECK,
	SQL_PUT,
	SQL_BCAST_SELECT,
	SQL_BCAST_INSERT,
	SQL_PEEK,
	SQL_TAKE,
	SQL_TAKEN_DEL,
	SQL_TAKEN_RELEASE,
	SQL_NEXT_DUE,
	SQL_READY,
	SQL_DEL,
	SQL_COUNT,
	/* data.c */
	SQL_EP_ADD,
	SQL_EP_DEL,
	SQL_EP_HAS,
	SQL_EP_LIST,
	SQL_DATA_GET,
	SQL_DATA_PUT,
	SQL_DATA_DEL,
	SQL_ROOM_JOIN,
	SQL_ROOM_LEAVE,
	SQL_ROOM_LEAVE_ALL,
	SQL_ACK_NEXT,
	SQL_ACK_PUT,
	SQL_ACK_TAKE,
	SQL_ACK_GET,
	SQL_COUNTER_ADD,
	SQL_COUNTER_GET,
	/* process.c */
	SQL_PROC_LIST,
	SQL_PROC_HOLDERS,
	SQL_PROC_RELEASE,
	SQL_PROC_PUT,
	SQL_PROC_RENEW,
	SQL_PROC_DEL,
	SQL_PROC_DETACH,
	/* bridge.c */
	SQL_BRIDGE_PUT,
	SQL_BRIDGE_COUNT,
	SQL_BRIDGE_COUNT_ALL,
	SQL_BRIDGE_FIRST,
	SQL_BRIDGE_SCAN,
	SQL_BRIDGE_MARK,
	SQL_BRIDGE_DONE,
	SQL_BRIDGE_RETRY,
	/* stats.c */
	SQL_SAMPLE_PUT,
	SQL_SAMPLE_TRIM,
	SQL_NSTMT
};

/* The statements' SQL, one sparse table per file. */
extern const char *const sqlite_db_sql[SQL_NSTMT];
extern const char *const sqlite_wal_sql[SQL_NSTMT];
extern const char *const sqlite_session_sql[SQL_NSTMT];
extern const char *const sqlite_timer_sql[SQL_NSTMT];
extern const char *const sqlite_outbox_sql[SQL_NSTMT];
extern const char *const sqlite_data_sql[SQL_NSTMT];
extern const char *const sqlite_process_sql[SQL_NSTMT];
extern const char *const sqlite_stats_sql[SQL_NSTMT];
extern const char *const sqlite_bridge_sql[SQL_NSTMT];

/*
 * The states and transports that the engine passes as bit masks are bound
 * as one word list, ",open,detached," (sio_store_words()); a statement asks
 * whether a column's word is in the list bound to ?n with
 * instr(?n, ',' || column || ',') > 0.
 */

/* Detaches: ?1 now; a session in a state of ?2 moves to state ?3, with
 * detached_at now; every one loses its holder. */
#define DETACH_FROM " instr(?2, ',' || state || ',') > 0"
#define DETACH_SET                                                             \
	"UPDATE sessions SET state = CASE WHEN" DETACH_FROM " THEN ?3"         \
	" ELSE state END, detached_at = CASE WHEN" DETACH_FROM " THEN ?1"      \
	" ELSE detached_at END, holder = NULL, holder_conn = NULL"

/* The columns sqlite_session_row() reads, in its order. */
#define SESSION_COLS                                                           \
	"state, transport, holder, holder_conn, created, last_recv,"           \
	" detached_at, closed_at, close_reason"

/* A connection: st->be. */
struct sqlite_conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[SQL_NSTMT];
	enum sio_store_role role;
	int max_queue;
	int busy_ms;          /* the busy timeout */
	long long busy_since; /* us, monotonic: this wait's start */
	/* the last peek's rows no transport can write: how many, the last */
	long long bad, bad_last;
	long long version;       /* data_version at the last tick, -1 before */
	int wal;                 /* frames in the WAL at the last checkpoint */
	long long checkpoint_at; /* ms: the last checkpoint */
};

#define SQ(st) ((struct sqlite_conn *)(st)->be)

/* --- db.c: statements and helpers ------------------------------------ */

/* Records SQLite's message; SIO_ERR. */
int sqlite_sqlfail(struct sio_store *st);
/*
 * Resets statement id (compiled at its first use) and binds its
 * parameters in order: 't' a C string (NULL binds NULL), 'b' a string and
 * its size_t length, 'i' a long long. Returns the statement, or NULL with
 * the error recorded.
 */
sqlite3_stmt *sqlite_prep(struct sio_store *st, enum sqlite_sql id,
                          const char *types, ...);
/* Steps s; on failure records the error and resets. SQLITE_ROW,
 * SQLITE_DONE, or SQLITE_ERROR. */
int sqlite_step(struct sio_store *st, sqlite3_stmt *s);
/* Runs a prepared write (or s NULL after a failed sqlite_prep) to its end. */
int sqlite_run(struct sio_store *st, sqlite3_stmt *s);
/* Reads column 0 of the first row as an integer: SIO_OK, SIO_ABSENT when
 * there is no row, SIO_ERR. */
int sqlite_one(struct sio_store *st, sqlite3_stmt *s, long long *out);
/* Copies a text column, NULL staying NULL; *failed set when out of memory. */
char *sqlite_column_dup(sqlite3_stmt *s, int col, int *failed);
/* Runs one write statement in a transaction of its own when needed. */
int sqlite_write(struct sio_store *st, sqlite3_stmt *s);
/* Queues a ring for the holder in column 1 of every row of s (sid in
 * column 0). */
int sqlite_ring_rows(struct sio_store *st, sqlite3_stmt *s);
/* A state (closed when unknown) or transport (-1) column. */
int sqlite_state(sqlite3_stmt *s, int col);
int sqlite_transport(sqlite3_stmt *s, int col);
/* Runs a pragma (or any one statement) once, reading the first column of
 * its first row into buf when there is one. */
int sqlite_pragma(struct sio_store *st, const char *sql, char *buf,
                  size_t size);
int sqlite_exec(struct sio_store *st, const char *sql);
/* A statement prepared for one call (the rare ones), sid bound to ?1 when
 * it has a parameter; sqlite_adhoc_end() finalizes it: n when the rows ran
 * out, SIO_ERR when a step failed. */
sqlite3_stmt *sqlite_adhoc(struct sio_store *st, const char *sql,
                           const char *sid);
int sqlite_adhoc_end(struct sio_store *st, sqlite3_stmt *s, int rc, int n);

/* --- the operations (store_ops.h), by file --------------------------- */

/* db.c */
int sqlite_open(struct sio_store *st, const char *path,
                const struct sio_store_opts *opts, char *err);
void sqlite_close(struct sio_store *st);
int sqlite_begin(struct sio_store *st);
int sqlite_read_begin(struct sio_store *st);
void sqlite_read_end(struct sio_store *st);
int sqlite_read_upgrade(struct sio_store *st);
int sqlite_commit(struct sio_store *st);
int sqlite_rollback(struct sio_store *st);
int sqlite_in_transaction(struct sio_store *st);
int sqlite_savepoint(struct sio_store *st);
int sqlite_rollback_to(struct sio_store *st);
int sqlite_release(struct sio_store *st);
/* wal.c: configures a new connection for its role; the ops */
int sqlite_wal_role(struct sio_store *st);
int sqlite_tick(struct sio_store *st, long long now);
int sqlite_maintain(struct sio_store *st, long long now);
/* session.c */
void sqlite_session_row(sqlite3_stmt *s, int col,
                        struct sio_store_session *out);
int sqlite_session_new(struct sio_store *st, const char *sid,
                       const char *request, long long now);
int sqlite_sessions_live(struct sio_store *st, const char *remote, int max,
                         int *all, int *of_remote);
int sqlite_session_get(struct sio_store *st, const char *sid,
                       struct sio_store_session *out);
int sqlite_session_state(struct sio_store *st, const char *sid,
                         long long *last_recv);
int sqlite_holder_state(struct sio_store *st, const char *sid,
                        const char *holder, long long conn);
int sqlite_attach(struct sio_store *st, const char *sid, int transport,
                  const char *holder, long long conn, long long now, int *hello,
                  unsigned from, int to, int fenced);
int sqlite_detach(struct sio_store *st, const char *sid, const char *holder,
                  long long conn, long long now, unsigned from, int to);
int sqlite_hello_sent(struct sio_store *st, const char *sid, int sent);
int sqlite_touch(struct sio_store *st, const char *sid, long long now);
int sqlite_ring_holder(struct sio_store *st, const char *sid);
int sqlite_ring_other(struct sio_store *st, const char *sid, const char *holder,
                      long long conn);
int sqlite_session_end(struct sio_store *st, const char *sid,
                       const char *reason, long long now, unsigned from,
                       int to);
int sqlite_session_forget(struct sio_store *st, const char *sid);
int sqlite_session_gone(struct sio_store *st, const char *sid);
int sqlite_session_purge(struct sio_store *st, const char *sid);
int sqlite_cleanup(struct sio_store *st, long long before);
/* timer.c */
int sqlite_heartbeat_due(struct sio_store *st, long long now,
                         long long interval_ms, const char *holder,
                         long long others_late_ms, int state,
                         unsigned transports);
int sqlite_expired(struct sio_store *st, long long now,
                   const struct sio_store_expiry *e,
                   char (*sids)[SIO_SID_LEN + 1], int *states, int max);
int sqlite_clock_check(struct sio_store *st, const char *boot, long long wall,
                       long long mono, long long *step);
/* outbox.c */
int sqlite_outbox_functions(struct sio_store *st);
int sqlite_outbox_room(struct sio_store *st, const char *sid, int *room,
                       int *attached, long long *last_recv);
int sqlite_outbox_target(struct sio_store *st, const char *sid, int flags,
                         char holder[SIO_HOLDER_LEN], long long *conn,
                         long long *queued);
int sqlite_outbox_insert(struct sio_store *st, const char *sid, const char *pkt,
                         size_t len, long long due);
int sqlite_outbox_broadcast(struct sio_store *st, const char *endpoint,
                            const char *room, const char *exclude_sid,
                            const char *pkt, size_t len, int flags,
                            long long due);
int sqlite_outbox_peek(struct sio_store *st, const char *sid, long long now,
                       size_t max, const char *holder, long long conn,
                       int (*fn)(void *udata, const char *pkt, size_t len),
                       void *udata, long long *last_seq, int *blocked);
int sqlite_outbox_take(struct sio_store *st, const char *sid, long long now,
                       size_t max, const char *holder, long long conn,
                       int (*fn)(void *udata, const char *pkt, size_t len),
                       void *udata, int *blocked, int *dropped);
int sqlite_outbox_done(struct sio_store *st, const char *sid,
                       const char *holder, long long conn);
int sqlite_outbox_release(struct sio_store *st, const char *sid,
                          const char *holder, long long conn);
int sqlite_outbox_del(struct sio_store *st, const char *sid, long long now,
                      long long last_seq);
int sqlite_outbox_next_due(struct sio_store *st, const char *sid, long long now,
                           long long *due);
int sqlite_outbox_count(struct sio_store *st, const char *sid);
int sqlite_outbox_ready(struct sio_store *st, const char *holder, long long now,
                        void (*fn)(void *udata, const char *sid), void *udata);
/* data.c */
int sqlite_endpoint_add(struct sio_store *st, const char *sid,
                        const char *endpoint, const char *query);
int sqlite_endpoint_del(struct sio_store *st, const char *sid,
                        const char *endpoint);
int sqlite_endpoint_has(struct sio_store *st, const char *sid,
                        const char *endpoint);
int sqlite_endpoint_list(struct sio_store *st, const char *sid,
                         void (*fn)(void *udata, const char *endpoint,
                                    const char *query),
                         void *udata);
char *sqlite_data_get(struct sio_store *st, const char *sid, const char *key);
int sqlite_data_put(struct sio_store *st, const char *sid, const char *key,
                    const char *value);
int sqlite_room_join(struct sio_store *st, const char *sid,
                     const char *endpoint, const char *room);
int sqlite_room_leave(struct sio_store *st, const char *sid,
                      const char *endpoint, const char *room);
long long sqlite_ack_new(struct sio_store *st, const char *sid,
                         const char *endpoint, const char *handler,
                         const char *event);
int sqlite_ack_get(struct sio_store *st, const char *sid, const char *endpoint,
                   long long id, char **handler, char **event);
int sqlite_ack_take(struct sio_store *st, const char *sid, const char *endpoint,
                    long long id, char **handler, char **event);
int sqlite_counter_add(struct sio_store *st, const char *name, long long delta);
int sqlite_counter_get(struct sio_store *st, const char *name,
                       long long *value);
/* process.c */
int sqlite_process_register(struct sio_store *st, const char *name, int pid,
                            long long now);
int sqlite_process_unregister(struct sio_store *st, const char *name,
                              long long now, unsigned from, int to);
int sqlite_process_renew(struct sio_store *st, const char *name, long long now);
int sqlite_reap(struct sio_store *st, long long now, long long lease_ms,
                unsigned from, int to);
/* list.c */
int sqlite_session_list(struct sio_store *st, const char *sid,
                        int (*fn)(void *udata,
                                  const struct sio_store_summary *s),
                        void *udata);
int sqlite_room_list(struct sio_store *st, const char *sid,
                     void (*fn)(void *udata, const char *endpoint,
                                const char *room),
                     void *udata);
int sqlite_process_list(struct sio_store *st,
                        int (*fn)(void *udata,
                                  const struct sio_store_process *p),
                        void *udata);
int sqlite_counter_list(struct sio_store *st,
                        void (*fn)(void *udata, const char *name,
                                   long long value),
                        void *udata);
int sqlite_session_counts(struct sio_store *st,
                          void (*fn)(void *udata, enum sio_session_state state,
                                     int transport, long long sessions,
                                     long long queued),
                          void *udata);
int sqlite_cleanup_drained(struct sio_store *st);
/* bridge.c */
int sqlite_bridge_put(struct sio_store *st, const char *sid, const char *body,
                      size_t len, long long now, int max);
int sqlite_bridge_take(struct sio_store *st, const char *sid, const char *taker,
                       long long now, long long lease_ms, long long grace_ms,
                       int max,
                       void (*fn)(void *udata,
                                  const struct sio_store_bridge_event *e),
                       void *udata);
int sqlite_bridge_done(struct sio_store *st, const char *sid, long long seq,
                       const char *taker);
int sqlite_bridge_retry(struct sio_store *st, const char *sid, long long seq,
                        const char *taker, long long next_at);
int sqlite_bridge_count(struct sio_store *st, const char *sid, long long *n);
/* stats.c */
int sqlite_stats(struct sio_store *st, struct sio_store_stats *out);
int sqlite_stats_sample(struct sio_store *st, long long now);

#endif
