/*
 * store_ops.h: what a store backend implements. The front (store.c) keeps
 * the public sio_store_* API of store.h and owns what every backend shares:
 * transaction ownership and savepoint depth, the doorbells collected in a
 * transaction and rung after its commit, the direct path
 * (sio_store_set_direct), the bridge hook, the counters kept in memory
 * (sio_store_defer_counters), the error message, session ids and process
 * names. It reaches the database only through one struct sio_store_ops,
 * filled by a backend at open: SQLite today (common/sqlite/), PostgreSQL
 * next. This header is that backend's contract, operation by operation;
 * it is an interface because PostgreSQL is its second implementation.
 *
 * Conventions for every operation:
 * - st is the front's connection; the backend's own state is st->be (set
 *   by open, freed by close). One st is used by one thread at a time.
 * - Results are siogate.h's codes; on SIO_ERR the operation has set the
 *   message with sio_store_fail() (the front passes it on unchanged).
 * - Times are milliseconds since the epoch, from the caller (now), except
 *   where an operation says that it reads the clock.
 * - "Writes": the operation changes the database. It may be called inside
 *   an explicit transaction (begin ... commit) or alone; alone it runs in a
 *   transaction of its own, opened with sio_store_tx_begin() and ended with
 *   sio_store_tx_end(), so that the doorbells it queues and the direct
 *   packets are handed over at that commit. Several statements of one
 *   operation are atomic: all or none.
 * - "Rings": after a commit, the holder of each session named with
 *   sio_store_bell() gets a datagram (a hint; a lost one is caught by
 *   tick). The operation queues the rings, the front delivers them.
 * - Strings passed in are borrowed; strings passed to callbacks are valid
 *   during the call only.
 * - The session states and transports are store.h's enums; a backend
 *   stores them as the words of sio_store_state_name() and
 *   sio_store_transport_name() (readable by operators' SQL).
 * - A backend decides no state change. The operations that move a
 *   session's state (attach, detach, session_end, process_unregister,
 *   reap, the holders gone in expired) are given the states the row may
 *   move from (from: bits 1 << enum sio_session_state) and the state to
 *   write (to), from the engine's table (common/session.c); they compare
 *   and set in one atomic step, so that two writers racing cannot both
 *   move a row. The timers are given the states, transports and clocks
 *   they look at (heartbeat_due, expired). One rule stays written in the
 *   SQLite schema: a session "live" for sessions_live and the per-remote
 *   partial index is one not closed (`state <> 'closed'`, SQL_LIVE_OF),
 *   since SQLite uses a partial index only for a query that repeats its
 *   WHERE literally. The outbox's reads refuse closed sessions, and
 *   session_forget, session_gone, cleanup and cleanup_drained apply to
 *   closed sessions only, as store.h says: states they read, not moves.
 */
#ifndef SIO_STORE_OPS_H
#define SIO_STORE_OPS_H

#include <stddef.h>

#include "store.h"

struct sio_store_ops;

/* What the commit hands over, queued in a transaction: a packet for a
 * connection of this process (sio_store_set_direct) or, pkt NULL, a
 * bridge put (sio_store_set_bridge_hook); depth: the savepoint it was
 * queued in, so that a rollback to it forgets both alike. */
struct sio_store_direct {
	char sid[SIO_SID_LEN + 1];
	long long conn;
	int depth;
	unsigned n; /* packets for sid so far, this one included */
	size_t len;
	char *pkt; /* NULL: a bridge put */
};

/* A doorbell to ring after the commit; sid "": holder was reaped, its
 * bell file is removed instead. */
struct sio_store_bell {
	char holder[SIO_HOLDER_LEN];
	char sid[SIO_SID_LEN + 1];
};

/* The most bytes of the sids of one notify (PostgreSQL's NOTIFY payload
 * is under 8000). */
#define SIO_STORE_NOTIFY_MAX 7000

/* Counters kept in memory between flushes (sio_store_defer_counters). */
enum { SIO_STORE_LATER_RECEIVED, SIO_STORE_LATER_SENT, SIO_STORE_LATER_N };

/* The front's connection. A backend reads be and ops, and nothing else:
 * the rest is the front's, reached through the functions below. */
struct sio_store {
	const struct sio_store_ops *ops;
	void *be;      /* the backend's connection */
	char *run_dir; /* NULL: never ring */
	int bell_fd;   /* sender socket, opened at the first ring */
	struct sio_store_bell *bells;
	size_t nbells, capbells;
	/* the direct path, when set */
	char direct_holder[SIO_HOLDER_LEN];
	int (*direct_accept)(void *udata, const char *sid, long long conn,
	                     unsigned staged);
	void (*direct_deliver)(void *udata, const char *sid, long long conn,
	                       const char *pkt, size_t len);
	void *direct_udata;
	struct sio_store_direct *directs;
	size_t ndirects, capdirects;
	/* the bridge hook, when set */
	void (*bridge_hook)(void *udata, const char *sid);
	void *bridge_udata;
	int depth;          /* savepoints open */
	int defer_counters; /* later[] instead of the counters table */
	long long later[SIO_STORE_LATER_N];
	long long later_at; /* ms: the last flush of later[] */
	int dropped;        /* rows the last outbox_take deleted */
	int blocked;   /* the last peek or take stopped at another's packet */
	int fenced;    /* the last attach was refused: its holder was reaped */
	int retryable; /* the last failure: sio_store_retryable() */
	char errmsg[SIO_ERR_LEN];
};

/* --- what the front offers a backend ------------------------------------ */

/* Formats the connection's error message; returns SIO_ERR. */
int sio_store_fail(struct sio_store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Queues a ring of holder (NULL or too long: none) for sid at the commit;
 * sid "" removes holder's doorbell file instead (a reaped process). */
void sio_store_bell(struct sio_store *st, const char *holder, const char *sid);

/* Opens a transaction for one operation unless the caller has one: *own
 * says whether sio_store_tx_end() must end it. SIO_OK or SIO_ERR. */
int sio_store_tx_begin(struct sio_store *st, int *own);
/* Ends a sio_store_tx_begin() transaction: rc SIO_ERR rolls back, anything
 * else commits (then rings). Returns rc, or SIO_ERR when the commit fails. */
int sio_store_tx_end(struct sio_store *st, int own, int rc);

/* The wall clock, ms since the epoch (for the rows' created columns). */
long long sio_store_now(void);

/* The schema's word for a transport ("websocket", ...); static. */
const char *sio_store_transport_name(int transport);
/* The enum of a state or transport word, -1 when it is none. */
int sio_store_state_parse(const char *word);
int sio_store_transport_parse(const char *word);

/*
 * Processes are reaped by lease, and sooner where the reaper can see them
 * (see sio_store_reap() in store.h). pid_space writes this process's pid
 * space (a string of up to SIO_STORE_SPACE_LEN - 1 bytes) and start time:
 * SIO_OK, or SIO_ABSENT when it has none that others could use.
 * pid_gone says 1 when pid, registered with start time start in this pid
 * space, is no longer that process, 0 when it is or /proc cannot tell.
 */
#define SIO_STORE_SPACE_LEN 96
int sio_store_pid_space(char space[SIO_STORE_SPACE_LEN], long long *start);
int sio_store_pid_gone(long long pid, long long start);

/* The word list of the states (sio_store_state_name) or, with transports
 * 1, of the transports in mask, into buf: ",open,detached,"; NULL for an
 * empty mask (binds NULL: matches nothing). A statement asks whether a
 * column's word is in the list. */
#define SIO_STORE_WORDS_LEN 128
const char *sio_store_words(unsigned mask, int transports,
                            char buf[SIO_STORE_WORDS_LEN]);

/* A schema's text (schema/schema.sql, schema/pg.sql): sections, each after a
 * line
 * `-- version N`. sio_store_schema_latest answers the highest N;
 * sio_store_schema_run runs each section whose N is above have, in
 * order, through run (a NUL-terminated copy of its SQL): SIO_OK, or the
 * first failure. */
int sio_store_schema_latest(const char *schema);
int sio_store_schema_run(struct sio_store *st, const char *schema, int have,
                         int (*run)(struct sio_store *st, const char *sql));

/* Whether a transport can write pkt: valid UTF-8, not empty. A backend
 * skips (and deletes at take) stored rows that are not. */
int sio_store_packet_ok(const char *pkt, size_t len);

/* --- the operations ---------------------------------------------------- */

struct sio_store_ops {
	const char *name; /* "sqlite" */

	/*
	 * open: connects to the database at path (the backend decides what
	 * the string means), creates or migrates the schema when it is
	 * behind (an up-to-date database must open without a write lock:
	 * every thread of a server opens its own connection at once), and
	 * sets st->be. opts->role says how the connection is used (the
	 * backend sizes and schedules its housekeeping by it). SIO_OK, or
	 * SIO_ERR with the reason in err (SIO_ERR_LEN bytes); on error open
	 * leaves st->be NULL. close ends the connection (an open transaction
	 * is rolled back) and frees st->be; the front has flushed its
	 * counters before, outside any transaction.
	 */
	int (*open)(struct sio_store *st, const char *path,
	            const struct sio_store_opts *opts, char *err);
	void (*close)(struct sio_store *st);

	/*
	 * Transactions (the front tracks depth and ownership, and calls
	 * these once each): begin starts a write transaction that holds the
	 * database's write lock until commit or rollback (waiting up to the
	 * busy timeout for it: SIO_ERR when it cannot); in_transaction says
	 * 1 while one is open (a backend that ended one on its own after an
	 * error says 0); commit makes it durable per the synchronous setting
	 * (SIO_ERR: the transaction is rolled back or must be, the front
	 * then calls rollback); rollback ends it, SIO_OK also when none is
	 * open. savepoint/rollback_to/release: one nameless nesting level at
	 * a time, inside a transaction only; rollback_to undoes and releases.
	 */
	int (*begin)(struct sio_store *st);
	int (*commit)(struct sio_store *st);
	int (*rollback)(struct sio_store *st);
	int (*in_transaction)(struct sio_store *st);
	int (*savepoint)(struct sio_store *st);
	int (*rollback_to)(struct sio_store *st);
	int (*release)(struct sio_store *st);
	/* A read snapshot outside any write transaction (what the handlers
	 * of a batch read, sio_store_read_begin): read_begin takes no write
	 * lock; SIO_ERR when a transaction is open. read_end ends it. */
	int (*read_begin)(struct sio_store *st);
	void (*read_end)(struct sio_store *st);
	/* Optional (NULL: the front ends the read and begins): makes the
	 * open read transaction the write transaction in place, SIO_OK;
	 * SIO_ERR, quietly and leaving the read transaction open, when it
	 * cannot (another connection wrote since the snapshot, or holds
	 * the write lock). */
	int (*read_upgrade)(struct sio_store *st);

	/*
	 * tick: called about once a second by each long-running process on
	 * its event loop's connection: 1 when any other connection (another
	 * process, a script, the sqlite3 shell) committed since the previous
	 * tick, else 0 (also at the first call, which sets the reference);
	 * SIO_ERR. Must be cheap: no write. maintain: called every
	 * SIO_STORE_MAINTAIN_MS by the housekeeping thread of a process on
	 * a connection opened with role SIO_STORE_MAINTAIN; does the
	 * database's upkeep (SQLite: WAL checkpoints) so that the event
	 * loop's commits never wait for it. SIO_OK or SIO_ERR.
	 */
	int (*tick)(struct sio_store *st, long long now);
	int (*maintain)(struct sio_store *st, long long now);
	/* watch, optional (NULL: tick, then outbox_ready): both at once,
	 * as sio_store_watch() (store.h). */
	int (*watch)(struct sio_store *st, const char *holder, long long now,
	             void (*fn)(void *udata, const char *sid), void *udata);
	/* prelude, optional (NULL: nothing to read ahead): as
	 * sio_store_prelude() (store.h). */
	int (*prelude)(struct sio_store *st, const char *const *sids, int n,
	               int endpoints);

	/*
	 * Doorbells between hosts, optional (NULL: a server backend's
	 * processes on other hosts are found by tick alone). notify rings
	 * holder, a process with no doorbell in this host's run_dir, about
	 * sids (space-separated, shorter than SIO_STORE_NOTIFY_MAX), after
	 * a commit, outside any transaction. listen starts what turns those
	 * rings for holder into rings of its doorbell in run_dir (a thread
	 * with a connection of its own to the database at path), or answers
	 * NULL with the reason in err; unlisten stops and frees it.
	 */
	int (*notify)(struct sio_store *st, const char *holder,
	              const char *sids);
	void *(*listen)(const char *path, const char *holder,
	                const char *run_dir, char *err);
	void (*unlisten)(void *listener);

	/* --- sessions (store.h says what each answers) --- */

	/* Writes: inserts sid (from the front) in state handshaken with
	 * created = last_recv = last_heartbeat = now, request (may be
	 * NULL) and its "remote", and connects its root endpoint "". */
	int (*session_new)(struct sio_store *st, const char *sid,
	                   const char *request, long long now);
	/* Reads: the counter sessions_active in *all, live sessions of
	 * remote up to max in *of_remote. */
	int (*sessions_live)(struct sio_store *st, const char *remote, int max,
	                     int *all, int *of_remote);
	/* Reads: SIO_ABSENT for no such session; out zeroed by the front. */
	int (*session_get)(struct sio_store *st, const char *sid,
	                   struct sio_store_session *out);
	int (*session_state)(struct sio_store *st, const char *sid,
	                     long long *last_recv);
	int (*holder_state)(struct sio_store *st, const char *sid,
	                    const char *holder, long long conn);
	/* Writes, rings the previous holder when it is not (holder, conn);
	 * adds 1 to connections_opened. transport is valid, holder fits.
	 * SIO_ABSENT when sid is absent, SIO_CLOSED when it is in no state of
	 * from: nothing written either way. fenced: holder is a process this
	 * program registered, and the attach is SIO_ERR, writing nothing,
	 * unless its row is in processes (read in the same transaction). */
	int (*attach)(struct sio_store *st, const char *sid, int transport,
	              const char *holder, long long conn, long long now,
	              int *hello, unsigned from, int to, int fenced);
	/* Writes: clears (holder, conn); moves a state in from to to with
	 * detached_at = now. */
	int (*detach)(struct sio_store *st, const char *sid, const char *holder,
	              long long conn, long long now, unsigned from, int to);
	int (*hello_sent)(struct sio_store *st, const char *sid, int sent);
	int (*touch)(struct sio_store *st, const char *sid, long long now);
	/* Writes: the session's end has exactly one claimant. Of any number
	 * of connections of any processes calling it for one sid, one gets
	 * 1, every other 0 (the check and the change are one atomic step);
	 * the claimant's transaction rings the holder. The claimant is the
	 * one that moved the row from a state in from to to. */
	int (*session_end)(struct sio_store *st, const char *sid,
	                   const char *reason, long long now, unsigned from,
	                   int to);
	int (*session_forget)(struct sio_store *st, const char *sid);
	int (*session_gone)(struct sio_store *st, const char *sid);
	int (*session_purge)(struct sio_store *st, const char *sid);
	int (*cleanup)(struct sio_store *st, long long before);
	int (*cleanup_drained)(struct sio_store *st);

	/* --- timers (writes; rings what they queue) --- */
	/* The sessions in state on one of transports (bits 1 << enum
	 * sio_transport). */
	int (*heartbeat_due)(struct sio_store *st, long long now,
	                     long long interval_ms, const char *holder,
	                     long long others_late_ms, int state,
	                     unsigned transports);
	/* e->n (0 to SIO_STORE_TIMEOUTS_MAX, checked by the front) timeouts;
	 * states[i]: the state sids[i] was found in. */
	int (*expired)(struct sio_store *st, long long now,
	               const struct sio_store_expiry *e,
	               char (*sids)[SIO_SID_LEN + 1], int *states, int max);
	int (*clock_check)(struct sio_store *st, const char *boot,
	                   long long wall, long long mono, long long *step);

	/*
	 * --- the outbox ---
	 * Per session, packets are kept in the order queued (a sequence
	 * number that only grows) and each is written at least once: it is
	 * removed only by del or done, after its write. due: not passed to a
	 * reader before due (0: at once); a delayed packet does not hold back
	 * the undelayed ones behind it. take marks rows as taken by (holder,
	 * conn); a row taken by another writer stops every later reader of
	 * the session at it (nothing overtakes a packet that may be handed
	 * back), with *blocked = 1.
	 *
	 * outbox_target (reads, inside the put's transaction): whether sid
	 * takes one more packet: SIO_OK with its holder in holder ("" when
	 * none), the holder's conn and the packets queued; SIO_ABSENT absent,
	 * SIO_CLOSED closed; SIO_FULL when queued >= the queue limit, unless
	 * the packet is volatile and no holder is attached. outbox_insert
	 * (writes, inside the put's transaction) appends the packet; the
	 * front has decided it goes to the outbox and rings the holder.
	 */
	int (*outbox_target)(struct sio_store *st, const char *sid, int flags,
	                     char holder[SIO_HOLDER_LEN], long long *conn,
	                     long long *queued);
	/* outbox_room (reads, no transaction needed): how many more packets
	 * sid's queue takes (0 when full), whether a holder is attached and
	 * the session's last_recv; SIO_ABSENT absent, SIO_CLOSED closed. */
	int (*outbox_room)(struct sio_store *st, const char *sid, int *room,
	                   int *attached, long long *last_recv);
	int (*outbox_insert)(struct sio_store *st, const char *sid,
	                     const char *pkt, size_t len, long long due);
	/* Optional (NULL: outbox_target, then outbox_insert): both in one
	 * step, for a connection with no direct path (writes, inside the
	 * put's transaction): outbox_target's results, and on SIO_OK the
	 * packet appended unless it is volatile and no holder is attached
	 * (dropped); holder is then the one to ring ("" when none). */
	int (*outbox_put)(struct sio_store *st, const char *sid,
	                  const char *pkt, size_t len, int flags, long long due,
	                  char holder[SIO_HOLDER_LEN]);
	/* Writes, rings each holder; as store.h, with due. */
	int (*outbox_broadcast)(struct sio_store *st, const char *endpoint,
	                        const char *room, const char *exclude_sid,
	                        const char *pkt, size_t len, int flags,
	                        long long due);
	int (*outbox_peek)(struct sio_store *st, const char *sid, long long now,
	                   size_t max, const char *holder, long long conn,
	                   int (*fn)(void *udata, const char *pkt, size_t len),
	                   void *udata, long long *last_seq, int *blocked);
	/* Writes: as peek, then marks what fn took; deletes, unread, the
	 * rows that are not sio_store_packet_ok() (*dropped). */
	int (*outbox_take)(struct sio_store *st, const char *sid, long long now,
	                   size_t max, const char *holder, long long conn,
	                   int (*fn)(void *udata, const char *pkt, size_t len),
	                   void *udata, int *blocked, int *dropped);
	/* Writes; done and del add what they delete to packets_sent
	 * (sio_store_counter_add), done rings the holder when it is not
	 * (holder, conn), release rings the holder. */
	int (*outbox_done)(struct sio_store *st, const char *sid,
	                   const char *holder, long long conn);
	/* Optional (NULL: outbox_done, then detach): both, as they would
	 * one after the other, in one step. */
	int (*outbox_done_detach)(struct sio_store *st, const char *sid,
	                          const char *holder, long long conn,
	                          long long now, unsigned from, int to);
	/* Optional (NULL: none; sio_store_outbox_done_take()): outside any
	 * transaction, taking no writers' lock, as one step that first waits
	 * for whoever changes sid's session: when done, outbox_done; then,
	 * when max > 0 and (holder, conn) holds sid, outbox_take of its first
	 * page (*more: it was full). *state: sid's state when (holder, conn)
	 * holds it, else SIO_ABSENT. The number taken; SIO_AGAIN: the done
	 * made, nothing taken (what fn got is void), the take needs a
	 * transaction; or SIO_ERR: what it did is unknown (the caller hands
	 * back what (holder, conn) holds: outbox_release). */
	int (*outbox_done_take)(
	    struct sio_store *st, const char *sid, long long now, size_t max,
	    const char *holder, long long conn, int done,
	    int (*fn)(void *udata, const char *pkt, size_t len), void *udata,
	    int *state, int *blocked, int *more);
	int (*outbox_release)(struct sio_store *st, const char *sid,
	                      const char *holder, long long conn);
	int (*outbox_del)(struct sio_store *st, const char *sid, long long now,
	                  long long last_seq);
	int (*outbox_next_due)(struct sio_store *st, const char *sid,
	                       long long now, long long *due);
	int (*outbox_count)(struct sio_store *st, const char *sid);
	int (*outbox_ready)(struct sio_store *st, const char *holder,
	                    long long now,
	                    void (*fn)(void *udata, const char *sid),
	                    void *udata);

	/*
	 * --- the bridge's queue (store.h) ---
	 * bridge_put (writes, inside the front's transaction) appends the
	 * event or answers SIO_FULL; the front queues the hook. bridge_take
	 * marks the events it takes and calls fn after its commit (or, in
	 * the caller's transaction, before the caller's).
	 */
	int (*bridge_put)(struct sio_store *st, const char *sid,
	                  const char *body, size_t len, long long now, int max);
	int (*bridge_take)(struct sio_store *st, const char *sid,
	                   const char *taker, long long now, long long lease_ms,
	                   long long grace_ms, int max,
	                   void (*fn)(void *udata,
	                              const struct sio_store_bridge_event *e),
	                   void *udata);
	int (*bridge_done)(struct sio_store *st, const char *sid, long long seq,
	                   const char *taker);
	int (*bridge_retry)(struct sio_store *st, const char *sid,
	                    long long seq, const char *taker,
	                    long long next_at);
	int (*bridge_count)(struct sio_store *st, const char *sid,
	                    long long *n);

	/* --- endpoints, data, rooms, acks, counters (store.h) --- */
	int (*endpoint_add)(struct sio_store *st, const char *sid,
	                    const char *endpoint, const char *query);
	int (*endpoint_del)(struct sio_store *st, const char *sid,
	                    const char *endpoint);
	int (*endpoint_has)(struct sio_store *st, const char *sid,
	                    const char *endpoint);
	int (*endpoint_list)(struct sio_store *st, const char *sid,
	                     void (*fn)(void *udata, const char *endpoint,
	                                const char *query),
	                     void *udata);
	/* NULL when absent (errmsg "" from the front) or on error. */
	char *(*data_get)(struct sio_store *st, const char *sid,
	                  const char *key);
	int (*data_put)(struct sio_store *st, const char *sid, const char *key,
	                const char *value);
	int (*room_join)(struct sio_store *st, const char *sid,
	                 const char *endpoint, const char *room);
	int (*room_leave)(struct sio_store *st, const char *sid,
	                  const char *endpoint, const char *room);
	long long (*ack_new)(struct sio_store *st, const char *sid,
	                     const char *endpoint, const char *handler,
	                     const char *event);
	/* ack_get reads what ack_take would take, without taking it. */
	int (*ack_get)(struct sio_store *st, const char *sid,
	               const char *endpoint, long long id, char **handler,
	               char **event);
	int (*ack_take)(struct sio_store *st, const char *sid,
	                const char *endpoint, long long id, char **handler,
	                char **event);
	/* Writes the table (the front keeps deferred counters itself). */
	int (*counter_add)(struct sio_store *st, const char *name,
	                   long long delta);
	/* The stored value (0 when absent); the front adds its later[]. */
	int (*counter_get)(struct sio_store *st, const char *name,
	                   long long *value);

	/* --- processes (store.h; leases on the lease's clock: now, or a
	 * clock all processes share, the database server's) --- */
	/* Writes: SIO_FULL when the name is taken. The front has checked
	 * the name; the backend records sio_store_pid_space() when pid is
	 * this process's. */
	int (*process_register)(struct sio_store *st, const char *name, int pid,
	                        long long now);
	/* Writes: what name held is detached with (from, to), as detach. */
	int (*process_unregister)(struct sio_store *st, const char *name,
	                          long long now, unsigned from, int to);
	int (*process_renew)(struct sio_store *st, const char *name,
	                     long long now);
	/* Writes: unregisters each lapsed or (sio_store_pid_gone) dead
	 * process and queues sio_store_bell(st, name, "") for each. */
	int (*reap)(struct sio_store *st, long long now, long long lease_ms,
	            unsigned from, int to);

	/* --- listings and stats (reads; stats_sample writes) --- */
	int (*session_list)(struct sio_store *st, const char *sid,
	                    int (*fn)(void *udata,
	                              const struct sio_store_summary *s),
	                    void *udata);
	int (*room_list)(struct sio_store *st, const char *sid,
	                 void (*fn)(void *udata, const char *endpoint,
	                            const char *room),
	                 void *udata);
	int (*process_list)(struct sio_store *st,
	                    int (*fn)(void *udata,
	                              const struct sio_store_process *p),
	                    void *udata);
	int (*counter_list)(struct sio_store *st,
	                    void (*fn)(void *udata, const char *name,
	                               long long value),
	                    void *udata);
	int (*session_counts)(struct sio_store *st,
	                      void (*fn)(void *udata,
	                                 enum sio_session_state state,
	                                 int transport, long long sessions,
	                                 long long queued),
	                      void *udata);
	/* One consistent snapshot, a read (a handler may ask, outside any
	 * write transaction); the front adds its deferred counters. */
	int (*stats)(struct sio_store *st, struct sio_store_stats *out);
	int (*stats_sample)(struct sio_store *st, long long now);
};

/* process_list's statement, the same in both backends' SQL. */
#define SIO_STORE_PROCESS_LIST_SQL                                             \
	"SELECT p.name, p.pid, p.started, p.renewed, (SELECT count(*)"         \
	" FROM sessions s WHERE s.holder = p.name) FROM processes p"           \
	" ORDER BY p.name"

/* The SQLite backend (common/sqlite/). */
extern const struct sio_store_ops sio_store_sqlite_ops;

#endif
