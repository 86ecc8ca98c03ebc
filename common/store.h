/*
 * store.h: where siogate keeps its state. One struct sio_store is one
 * database connection (one per thread); every session, endpoint, queued
 * packet, datum, room membership, pending ack and counter lives in the
 * database, so any process can serve any request of any session. Writes
 * run in short transactions; after a commit the store rings the doorbell
 * of the process holding each session that received packets. The API
 * names no database engine: store.c is the front, and a backend
 * (common/sqlite/, the one today) implements the operations of
 * store_ops.h.
 *
 * Functions that change the database may be called inside an explicit
 * transaction (sio_store_begin/commit) or alone, in which case each runs in
 * a transaction of its own. Times are milliseconds since the epoch.
 */
#ifndef SIO_STORE_H
#define SIO_STORE_H

#include <stddef.h>

#include "config.h"
#include "siogate.h"

struct sio_store;

/* Session states; the same words are in the schema's CHECK constraint. */
enum sio_session_state {
	SIO_SESSION_HANDSHAKEN = 0, /* sid issued, no transport yet */
	SIO_SESSION_OPEN,           /* a transport attached */
	SIO_SESSION_DETACHED, /* its transport went away; close timeout runs */
	SIO_SESSION_CLOSED,   /* ended; kept until its final packets drain */
};

#define SIO_HOLDER_LEN 64

struct sio_store_session {
	char sid[SIO_SID_LEN + 1];
	enum sio_session_state state;
	int transport; /* enum sio_transport of the last attach, -1 none */
	char holder[SIO_HOLDER_LEN]; /* process name, "" when detached */
	long long holder_conn;       /* connection number within the holder */
	long long created, last_recv, detached_at; /* ms; 0 when not */
	long long closed_at;                       /* ms; 0 when not */
	char close_reason[64]; /* "" when open; cut to fit */
	char *request; /* handshake request as JSON; owned (NULL in lists) */
};

/* How a connection is used: the backend schedules its housekeeping by it
 * (SQLite: who checkpoints the WAL, how large a page cache). */
enum sio_store_role {
	SIO_STORE_PLAIN = 0, /* a request's, a tool's: the backend's defaults */
	SIO_STORE_LOOP,      /* a server's event loop or its one writer: its
	                      * commits never wait for housekeeping, which
	                      * a SIO_STORE_MAINTAIN connection does */
	SIO_STORE_MAINTAIN,  /* the housekeeping thread's: sio_store_maintain */
};

struct sio_store_opts {
	enum sio_synchronous synchronous;
	enum sio_store_role role;
	int shared_group;    /* files 0660 instead of 0600 */
	int busy_timeout_ms; /* 0: 5000 */
	const char *run_dir; /* doorbells live here; NULL: never ring */
	int max_queue;       /* packets per session; 0: SIO_MAX_QUEUE */
};

/*
 * Opens (creating with the configured mode) the database at path, sets the
 * busy timeout and synchronous, and applies pending migrations (an
 * up-to-date database is opened without taking the write lock). Returns
 * the store, or NULL with the reason in err. Caller frees with
 * sio_store_close().
 */
struct sio_store *sio_store_open(const char *path,
                                 const struct sio_store_opts *opts, char *err);
void sio_store_close(struct sio_store *st);

/* sio_store_open() of cfg's database with cfg's synchronous, shared group,
 * run directory and queue limit, as every program opens it, for role. */
/* 1 when database names a database server (postgresql://... or
 * postgres://...), whose connections other programs share; 0 for a
 * SQLite file. */
int sio_store_is_server(const char *database);
/*
 * Rings from other hosts. A process of several hosts sharing a database
 * server is rung by the writers of its own host through its doorbell,
 * and by those of other hosts through the database: sio_store_listen()
 * starts what turns the latter into rings of the doorbell of holder in
 * run_dir (a thread with a connection of its own, which reconnects by
 * itself). NULL with err "" when the database has no such rings (SQLite:
 * one host), NULL with the reason in err on failure.
 * sio_store_unlisten() stops it (NULL: nothing).
 */
struct sio_store_listener;
struct sio_store_listener *sio_store_listen(const char *database,
                                            const char *holder,
                                            const char *run_dir, char *err);
void sio_store_unlisten(struct sio_store_listener *l);

/* database as a log line may show it: a server's URI, which may hold a
 * password, only as its scheme. */
const char *sio_store_label(const char *database);
struct sio_store *sio_store_open_config(const struct sio_config *cfg,
                                        enum sio_store_role role, char *err);

/* The last error message of this connection; borrowed. */
const char *sio_store_errmsg(struct sio_store *st);

/*
 * Explicit transactions: begin is BEGIN IMMEDIATE (waiting up to the busy
 * timeout), commit commits and then rings the doorbells of the sessions that
 * received packets, rollback forgets them. SIO_OK or SIO_ERR. Transactions
 * do not nest.
 */
int sio_store_begin(struct sio_store *st);
int sio_store_commit(struct sio_store *st);
int sio_store_rollback(struct sio_store *st);
/*
 * 1 when st's last failure was one that the same transaction, run again
 * from its start, may not meet: PostgreSQL chose it as a deadlock's victim
 * or failed it for serialization (SQLSTATE 40P01, 40001). SQLite never
 * says so (its writers take turns). Callers retry only work that runs
 * no application code (sio_session_apply()).
 */
int sio_store_retryable(struct sio_store *st);

/*
 * The direct path, for a process that holds sessions itself (sio-wsd): a
 * packet put (outbox_put, not delayed) for a session whose holder is
 * holder, with nothing in its outbox, and whose connection accept() takes
 * (a live one with few unwritten packets, counting the staged ones that
 * this transaction already passed it), skips the outbox: it is
 * passed to deliver() once the transaction commits, in order, or dropped
 * with a rollback (to a savepoint, too). It is then the connection's to
 * write; a process that dies before writing it loses it, as it would lose
 * what it wrote into a socket.
 */
void sio_store_set_direct(struct sio_store *st, const char *holder,
                          int (*accept)(void *udata, const char *sid,
                                        long long conn, unsigned staged),
                          void (*deliver)(void *udata, const char *sid,
                                          long long conn, const char *pkt,
                                          size_t len),
                          void *udata);

/*
 * From now on the hot counters (packets received and sent) of this
 * connection wait in memory; sio_store_counters_flush() adds them to the
 * store when a second has passed since the last time (now 0: at once),
 * reads of the counters include them, and sio_store_close() flushes.
 * SIO_OK or SIO_ERR.
 */
void sio_store_defer_counters(struct sio_store *st);
int sio_store_counters_flush(struct sio_store *st, long long now);

/* 1 while an explicit transaction is open (a backend may end one on its own
 * after an I/O error: then 0). */
int sio_store_in_transaction(struct sio_store *st);

/*
 * A read transaction around many reads (the runs of a batch): one
 * snapshot, taken at the first read, instead of one per statement. It
 * takes no write lock; end it before sio_store_begin(). SIO_OK or
 * SIO_ERR (the reads then go on one by one).
 */
int sio_store_read_begin(struct sio_store *st);
void sio_store_read_end(struct sio_store *st);

/*
 * Ends the read transaction by making it the write transaction, as
 * sio_store_begin() opens one: in place when the backend can (nobody
 * wrote since the snapshot, so what was read still holds), else by
 * ending it and beginning anew (what was read may be older than the
 * write transaction: re-check it there). With no read transaction open,
 * sio_store_begin(). SIO_OK or SIO_ERR as sio_store_begin().
 */
int sio_store_read_upgrade(struct sio_store *st);

/*
 * Takes out of the open transaction the doorbells it would ring for
 * holder at its commit and passes their sids to fn now: a process that
 * is holder itself needs no datagram to itself. If the transaction then
 * rolls back, fn has only woken someone for nothing.
 */
void sio_store_bells_take(struct sio_store *st, const char *holder,
                          void (*fn)(void *udata, const char *sid),
                          void *udata);

/*
 * One savepoint inside an explicit transaction: savepoint marks, rollback_to
 * undoes the changes made since the mark (and releases it), release keeps
 * them and drops the mark. SIO_OK or SIO_ERR (also when no transaction is
 * open). Doorbells queued since the mark are kept; a ring is only a hint.
 */
int sio_store_savepoint(struct sio_store *st);
int sio_store_rollback_to(struct sio_store *st);
int sio_store_release(struct sio_store *st);

/* The schema version this build writes (SQLite: PRAGMA user_version). */
int sio_store_schema_version(void);

/*
 * What a long-running process calls on its event loop's connection once a
 * second (SIO_WATCH_MS): 1 when others (another connection, process, the
 * sqlite3 shell, a script) wrote since the last tick, so that the process
 * looks for packets that no doorbell announced; 0 when not, and at the
 * first call; SIO_ERR.
 */
int sio_store_tick(struct sio_store *st, long long now);

/*
 * sio_store_tick() then, when it says others wrote, the sessions of
 * holder with a packet ready (sio_store_outbox_ready(): fn is called for
 * each): in one round trip where the backend can. Returns how many were
 * found (0 when nothing was written), or SIO_ERR.
 */
int sio_store_watch(struct sio_store *st, const char *holder, long long now,
                    void (*fn)(void *udata, const char *sid), void *udata);

/*
 * Inside a transaction, before a batch works on the sessions sids (n of
 * them): a backend whose reads are round trips reads in one what the
 * batch will ask of each (its state, queue and holder; with endpoints
 * set, its connected endpoints too, for packets in), in the round trip
 * of the transaction's next statement, and answers those reads from it
 * until the transaction writes to that session, or ends.
 * What the reads return is the same either way. A no-op outside a
 * transaction, and on a backend without round trips. SIO_OK, or SIO_ERR
 * (the reads then go one at a time).
 */
int sio_store_prelude(struct sio_store *st, const char *const *sids, int n,
                      int endpoints);

/*
 * The database's housekeeping (SQLite: checkpoints the WAL back into the
 * file, so that it stays short, away from the event loop's commits). A
 * process's housekeeping thread calls it every SIO_STORE_MAINTAIN_MS on a
 * connection of its own opened with role SIO_STORE_MAINTAIN; it decides
 * itself when there is work. SIO_OK or SIO_ERR.
 */
int sio_store_maintain(struct sio_store *st, long long now);
#define SIO_STORE_MAINTAIN_MS 250

/* --- sessions --------------------------------------------------------- */

/*
 * Creates a session in state handshaken with a fresh 128-bit id from
 * getrandom, URL-safe base64 (SIO_SID_LEN chars) written to sid. request is
 * the handshake as JSON (borrowed, may be NULL). SIO_OK or SIO_ERR.
 */
int sio_store_session_new(struct sio_store *st, const char *request,
                          long long now, char sid[SIO_SID_LEN + 1]);

/*
 * The two halves of sio_store_session_new(), for a session engine that
 * needs the id before the row exists (the root on_open runs before the
 * handshake's transaction): a fresh id written to sid, SIO_OK or SIO_ERR
 * (st may be NULL: it only keeps the message); and the session created
 * under sid, SIO_OK or SIO_ERR.
 */
int sio_store_sid_new(struct sio_store *st, char sid[SIO_SID_LEN + 1]);
int sio_store_session_add(struct sio_store *st, const char *sid,
                          const char *request, long long now);

/*
 * The live (not closed) sessions: all of them in *all, and in *of_remote
 * those whose handshake came from remote (its request's "remote"),
 * counted up to max. SIO_OK or SIO_ERR.
 */
int sio_store_sessions_live(struct sio_store *st, const char *remote, int max,
                            int *all, int *of_remote);

/* Reads a session. SIO_OK, SIO_ABSENT when there is no such session, or
 * SIO_ERR. Free out with sio_store_session_cleanup(). */
int sio_store_session_get(struct sio_store *st, const char *sid,
                          struct sio_store_session *out);
void sio_store_session_cleanup(struct sio_store_session *s);

/*
 * The operations below that change a session's state decide nothing: the
 * engine (common/session.c, its table) passes the states the session may
 * move from (bits 1 << enum sio_session_state) and the state it moves to,
 * and the store moves the row only when it is in one of them, in one
 * atomic step (compare-and-set). Callers outside the store use the
 * engine's wrappers (sio_session_attach() and the others in session.h).
 */
#define SIO_STATE_BIT(state) (1u << (state))

/*
 * Attaches a transport held by (holder, conn): when the session's state is
 * in from, state to (the engine: open), superseding any previous holder
 * (which is rung so that it notices). *hello is set to 1 when the session's
 * `1::` was never written to a transport (sio_store_hello_sent), meaning it
 * must go out first on this one. SIO_OK, SIO_ABSENT when the session does
 * not exist, SIO_CLOSED when it is in no state of from (the engine:
 * closed), SIO_ERR; SIO_ERR too when holder is a name this program
 * registered with sio_store_process_new() whose row is gone: it was
 * reaped, and holds nothing under that name.
 */
int sio_store_attach(struct sio_store *st, const char *sid, int transport,
                     const char *holder, long long conn, long long now,
                     int *hello, unsigned from, int to);
/* 1 when the last attach on st failed because its holder was reaped (the
 * process should register anew, then attach under its new name). */
int sio_store_fenced(struct sio_store *st);

/*
 * Detaches (holder, conn) if it still holds the session: its holder
 * cleared, and when its state is in from, state to with detached_at = now
 * (the engine: open to detached; the close timeout starts). SIO_OK (also
 * when it no longer held it) or SIO_ERR.
 */
int sio_store_detach(struct sio_store *st, const char *sid, const char *holder,
                     long long conn, long long now, unsigned from, int to);

/*
 * Records (sent 1) that sid's `1::` went to a transport: no later attach
 * says it again (socket.io 0.9 sends it once a session); sent 0 takes that
 * back after a write that failed, so that a client that never got it gets
 * it on its next transport. sio-wsd records it once the frame is written;
 * the gateway before it writes the response, since the client's next poll
 * may attach as soon as it has read this one. SIO_OK (also for an unknown
 * session) or SIO_ERR.
 */
int sio_store_hello_sent(struct sio_store *st, const char *sid, int sent);

/* 1 when (holder, conn) is the session's current holder, 0 when not. */
int sio_store_is_holder(struct sio_store *st, const char *sid,
                        const char *holder, long long conn);

/* The session's state (enum sio_session_state) and its last_recv: what a
 * packet in needs to know. SIO_ABSENT when there is no such session,
 * SIO_ERR. */
int sio_store_session_state(struct sio_store *st, const char *sid,
                            long long *last_recv);

/* The session's state (enum sio_session_state) when (holder, conn) holds
 * it, SIO_ABSENT when not (or no such session), SIO_ERR. */
int sio_store_holder_state(struct sio_store *st, const char *sid,
                           const char *holder, long long conn);

/* Records that a packet arrived from the client (heartbeat timeout). */
int sio_store_touch(struct sio_store *st, const char *sid, long long now);

/*
 * Claims the end of a session: when its state is in from, state to (the
 * engine: closed) with closed_at = now and reason. Returns 1 when this call
 * moved it (the caller runs on_close), 0 when it was in no state of from
 * (already closed) or absent, or SIO_ERR. Two processes racing get 1
 * exactly once.
 */
int sio_store_session_end(struct sio_store *st, const char *sid,
                          const char *reason, long long now, unsigned from,
                          int to);

/*
 * Forgets closed session sid for its client (which ended it, or let it
 * time out): from then on sio_store_session_gone() says 1 for it. SIO_OK
 * (nothing for a session not closed or unknown) or SIO_ERR.
 */
int sio_store_session_forget(struct sio_store *st, const char *sid);

/*
 * 1 when a request on sid is answered as for an unknown session: there is
 * no such session, or one forgotten (sio_store_session_forget); 0 when
 * it is live or the application ended it (its final packets are still for
 * the client); SIO_ERR.
 */
int sio_store_session_gone(struct sio_store *st, const char *sid);

/* Deletes a closed session's endpoints, rooms, data and pending acks (its
 * outbox stays for the final packets). SIO_OK or SIO_ERR. */
int sio_store_session_purge(struct sio_store *st, const char *sid);

/* Deletes closed sessions (and their outboxes) that ended before
 * `before`. Returns the number deleted or SIO_ERR. */
int sio_store_cleanup(struct sio_store *st, long long before);

/*
 * Queues `2::` for the sessions in state (the engine: open) attached on one
 * of transports (bits 1 << enum sio_transport; the engine: the persistent
 * ones, websocket, flashsocket, htmlfile), held by a holder, whose last
 * heartbeat is interval_ms old, in one
 * transaction, and rings their holders. holder NULL: every such session.
 * Otherwise those that holder holds, and another holder's only once it is
 * others_late_ms later still (a process sending its own sessions'
 * heartbeats is left to do so; a holder running no timers, a CGI request,
 * still gets them); others_late_ms < 0: none of another holder's. Returns
 * the count or SIO_ERR.
 */
int sio_store_heartbeat_due(struct sio_store *st, long long now,
                            long long interval_ms, const char *holder,
                            long long others_late_ms, int state,
                            unsigned transports);

/*
 * A step of the wall clock, found by comparing (wall, mono) with the pair
 * the last check of the same boot stored: when the wall clock moved more
 * than SIO_CLOCK_STEP_MS away from mono (CLOCK_BOOTTIME, ms), the times a
 * timer reads (sessions' last_recv, last_heartbeat, detached_at,
 * closed_at, created; outbox due) move by the step, so that no session
 * expires early (a step forward) or late (back); rows written in the
 * last SIO_CLOCK_BAND_MS, which may be on either side of the step, are
 * left. Stats samples from before the step are dropped. Then the pair is
 * stored. The sweeper calls it each second. Sets *step (0: none);
 * SIO_OK or SIO_ERR.
 */
int sio_store_clock_check(struct sio_store *st, const char *boot,
                          long long wall, long long mono, long long *step);
#define SIO_CLOCK_STEP_MS 1000
#define SIO_CLOCK_BAND_MS 2000

/*
 * The timeouts sio_store_expired() applies, built by the engine from its
 * table (sio_session_expiry()): a session in state t[i].state, attached on
 * one of t[i].transports (0: any, none included), whose clock t[i].since
 * is at or before t[i].before, is found. The sessions that a holder gone
 * (unregistered or removed) held move from the states gone_from to
 * gone_to, as sio_store_detach() does.
 */
enum sio_store_since {
	SIO_STORE_SINCE_RECV = 0, /* last_recv: the client's last packet */
	SIO_STORE_SINCE_CREATED,  /* created: the handshake */
	SIO_STORE_SINCE_DETACHED, /* detached_at: its transport went away */
};
#define SIO_STORE_TIMEOUTS_MAX 4
struct sio_store_timeout {
	int state;
	unsigned transports;
	enum sio_store_since since;
	long long before;
};
struct sio_store_expiry {
	struct sio_store_timeout t[SIO_STORE_TIMEOUTS_MAX];
	int n;
	unsigned gone_from;
	int gone_to;
};

/*
 * Detaches what gone holders held (e->gone_from, e->gone_to), then finds
 * up to max sessions to end as e says, in sid order. Writes their ids to
 * sids and the state each was in to states[i]. Returns the count or
 * SIO_ERR.
 */
int sio_store_expired(struct sio_store *st, long long now,
                      const struct sio_store_expiry *e,
                      char (*sids)[SIO_SID_LEN + 1], int *states, int max);

/* --- the outbox --------------------------------------------------------- */

#define SIO_STORE_VOLATILE 1 /* drop when no transport is attached */

/*
 * Appends one packet to a session's outbox, not delivered before due (ms
 * since the epoch; 0: at once; packets queued later without a delay do not
 * wait for it: a delayed packet is as if it had been queued at its due
 * time). SIO_OK; SIO_OK without queuing
 * for a volatile packet with no transport attached; SIO_ABSENT when the
 * session is absent, SIO_CLOSED when closed; SIO_FULL when the session's queue
 * is full (nothing was queued; sio_store_errmsg() says "queue full"); SIO_ERR
 * when the store fails.
 */
int sio_store_outbox_put(struct sio_store *st, const char *sid, const char *pkt,
                         size_t len, int flags, long long due);

/*
 * A read for a handler that runs before its writes are applied: how many
 * packets sid's outbox takes before it is full in *room, whether a
 * transport is attached in *attached, and when the client last sent a
 * packet in *last_recv (may be NULL). SIO_OK, SIO_ABSENT when the session
 * is absent, SIO_CLOSED when closed, SIO_ERR.
 */
int sio_store_outbox_room(struct sio_store *st, const char *sid, int *room,
                          int *attached, long long *last_recv);

/*
 * Appends one packet to every session connected to endpoint (room NULL) or
 * in room of endpoint, except exclude_sid (may be NULL), in one statement;
 * sessions whose queue is full are skipped; due as for outbox_put. Returns
 * the number of sessions queued to, or SIO_ERR.
 */
int sio_store_outbox_broadcast(struct sio_store *st, const char *endpoint,
                               const char *room, const char *exclude_sid,
                               const char *pkt, size_t len, int flags,
                               long long due);

/*
 * Calls fn for up to max packets of sid that are due by now, in order,
 * skipping rows that are not valid UTF-8 or are empty; fn returns SIO_OK
 * to go on, anything else to stop (that packet is not counted). Packets
 * taken by (holder, conn) are passed over (it is writing them); at a
 * packet that another writer has taken (holder NULL: anyone), it stops:
 * nothing goes out ahead of a packet that may yet be handed back, and
 * sio_store_outbox_blocked() then says 1. *last_seq is the sequence
 * number of the last packet passed (0 when none). Returns the number of
 * packets passed or SIO_ERR. Nothing is deleted.
 */
int sio_store_outbox_peek(struct sio_store *st, const char *sid, long long now,
                          size_t max, const char *holder, long long conn,
                          int (*fn)(void *udata, const char *pkt, size_t len),
                          void *udata, long long *last_seq);

/*
 * 1 when the last outbox_peek or outbox_take of this connection stopped
 * at a packet another writer had taken, 0 when not. The session's holder
 * is rung when that writer is done with it (outbox_done, outbox_release)
 * or is reaped: it waits for that ring.
 */
int sio_store_outbox_blocked(struct sio_store *st);

/*
 * The earliest due time after now among sid's queued packets, in *due: when
 * to look again. SIO_OK, SIO_ABSENT when no packet is waiting for a later
 * time, SIO_ERR.
 */
int sio_store_outbox_next_due(struct sio_store *st, const char *sid,
                              long long now, long long *due);

/* Deletes sid's packets up to and including last_seq that were due by now
 * (what was written). SIO_OK or SIO_ERR. */
int sio_store_outbox_del(struct sio_store *st, const char *sid, long long now,
                         long long last_seq);

/*
 * What a transport uses to write: like outbox_peek (stopping at a packet
 * another writer has taken), and in the same transaction marks the packets
 * passed to fn as taken by (holder, conn), so that no other request sends
 * them while this one writes. Then either outbox_done deletes them
 * (written; the session's holder is rung when it is not (holder, conn)) or
 * outbox_release hands them back (the write failed; the session's holder
 * is rung). Marks of a process that ends are released by
 * sio_store_process_unregister and sio_store_reap, which ring the holders
 * of the sessions concerned. Returns the number passed, or SIO_ERR.
 */
int sio_store_outbox_take(struct sio_store *st, const char *sid, long long now,
                          size_t max, const char *holder, long long conn,
                          int (*fn)(void *udata, const char *pkt, size_t len),
                          void *udata);
int sio_store_outbox_done(struct sio_store *st, const char *sid,
                          const char *holder, long long conn);
/* sio_store_outbox_done(), then sio_store_detach() with (now, from, to),
 * in one round trip where the backend makes them; SIO_OK or SIO_ERR. */
int sio_store_outbox_done_detach(struct sio_store *st, const char *sid,
                                 const char *holder, long long conn,
                                 long long now, unsigned from, int to);

/*
 * Where the store can (sio_store_can_done_take()), for a writer whose
 * every packet taken is written: outside any transaction and without the
 * writers' lock, in one step that first waits for whoever is changing
 * sid's session, sio_store_outbox_done() when done, then, when max > 0
 * and (holder, conn) holds sid, sio_store_outbox_take() of at most max
 * packets from the first page it reads (*more: there may be more).
 * *state: as sio_store_holder_state(). Returns the number taken (the
 * blocked flag set as a take sets it); SIO_AGAIN: the done made, nothing
 * taken, what fn got is void, and a take in a transaction is needed (an
 * unwritable packet to drop, fn refused one, the session closed); or
 * SIO_ERR: what it did is unknown (its connection was lost), and the
 * caller hands back what it holds (sio_store_outbox_release()). Rings
 * after itself as a commit does.
 */
int sio_store_can_done_take(struct sio_store *st);
int sio_store_outbox_done_take(struct sio_store *st, const char *sid,
                               long long now, size_t max, const char *holder,
                               long long conn, int done,
                               int (*fn)(void *udata, const char *pkt,
                                         size_t len),
                               void *udata, int *state, int *more);

/*
 * How many rows the last outbox_take of this connection deleted, unread,
 * because no transport could write them: not valid UTF-8, or empty. Only
 * a writer other than siogate's (SQL from the shell or a script) can
 * queue one; outbox_peek and outbox_take skip them, so they never hold
 * back what follows. 0 when none. For the caller's log line.
 */
int sio_store_outbox_dropped(struct sio_store *st);
int sio_store_outbox_release(struct sio_store *st, const char *sid,
                             const char *holder, long long conn);

/* Number of packets queued for sid, or SIO_ERR. */
int sio_store_outbox_count(struct sio_store *st, const char *sid);

/*
 * Calls fn for each session held by holder with a packet ready to write
 * (due, not taken, and behind no packet that another writer than the
 * holder's connection has taken): what a holder looks for when
 * sio_store_tick() says that someone wrote. Returns how many, or SIO_ERR.
 */
int sio_store_outbox_ready(struct sio_store *st, const char *holder,
                           long long now,
                           void (*fn)(void *udata, const char *sid),
                           void *udata);

/* --- the bridge's queue ------------------------------------------------- */

/*
 * app = bridge: each session's events for the application, in put order
 * (seq), sent one at a time by whichever process takes the first one.
 * Rows outlive their session; times are ms since the epoch.
 */

/* One event of the bridge's queue, as sio_store_bridge_take() passes it;
 * strings valid during the call. */
struct sio_store_bridge_event {
	const char *sid;
	long long seq;
	const char *body;
	size_t len;
	int tries; /* takes so far, this one included */
	long long created;
};

/* Writes. Appends an event for sid whatever its state (a close outlives
 * its session). SIO_OK; SIO_FULL when sid has max (> 0) events queued
 * (nothing written); SIO_ERR. At the commit the bridge hook (below) is
 * called for sid. */
int sio_store_bridge_put(struct sio_store *st, const char *sid,
                         const char *body, size_t len, long long now, int max);

/* Writes. Takes the first event (lowest seq) of sessions, one per
 * session, when it is free: not taken or its lease over (until < now),
 * and next_at <= now. sid non-NULL: that session's only. sid NULL (the
 * scan): up to max sessions, only events put at least grace_ms ago or
 * taken before (tries > 0), oldest first. Each taken event gets taker,
 * until = now + lease_ms, tries + 1, then fn is called with it. Returns
 * how many were taken, or SIO_ERR. */
int sio_store_bridge_take(struct sio_store *st, const char *sid,
                          const char *taker, long long now, long long lease_ms,
                          long long grace_ms, int max,
                          void (*fn)(void *udata,
                                     const struct sio_store_bridge_event *e),
                          void *udata);

/* Writes. Deletes event seq of sid if taker holds it: SIO_OK; SIO_ABSENT
 * when it is gone or another process took it since. */
int sio_store_bridge_done(struct sio_store *st, const char *sid, long long seq,
                          const char *taker);

/* Writes. Frees event seq of sid, held by taker, to be taken again from
 * next_at: SIO_OK; SIO_ABSENT as done. */
int sio_store_bridge_retry(struct sio_store *st, const char *sid, long long seq,
                           const char *taker, long long next_at);

/* Reads. Events queued for sid (NULL: all sessions) in *n. SIO_OK/SIO_ERR. */
int sio_store_bridge_count(struct sio_store *st, const char *sid, long long *n);

/* The bridge hook: after each commit, fn(udata, sid) for every
 * sio_store_bridge_put() the committed transaction made, in put order
 * (repeats allowed); puts rolled back (rollback, or rollback_to of their
 * savepoint) are forgotten. NULL fn: none (the default). It is called
 * once the write lock is released, after the direct path's packets and
 * the doorbells; fn may open a transaction of its own. */
void sio_store_set_bridge_hook(struct sio_store *st,
                               void (*fn)(void *udata, const char *sid),
                               void *udata);

/* --- endpoints, data, rooms, acks, counters --------------------------- */

/* Connected endpoints ("" is the root). add replaces the query. */
int sio_store_endpoint_add(struct sio_store *st, const char *sid,
                           const char *endpoint, const char *query);
int sio_store_endpoint_del(struct sio_store *st, const char *sid,
                           const char *endpoint);
/* 1 connected, 0 not, SIO_ERR. */
int sio_store_endpoint_has(struct sio_store *st, const char *sid,
                           const char *endpoint);
/* Calls fn for each connected endpoint, the root last (the order on_close
 * runs in). Returns the count or SIO_ERR. */
int sio_store_endpoint_list(struct sio_store *st, const char *sid,
                            void (*fn)(void *udata, const char *endpoint,
                                       const char *query),
                            void *udata);

/* Returns a copy the caller frees with free(), NULL when absent (or on
 * error; sio_store_errmsg tells). */
char *sio_store_data_get(struct sio_store *st, const char *sid,
                         const char *key);
/* value NULL deletes. SIO_OK or SIO_ERR. */
int sio_store_data_put(struct sio_store *st, const char *sid, const char *key,
                       const char *value);

/* Rooms are per endpoint; leave with room NULL leaves every room of the
 * endpoint. SIO_OK or SIO_ERR. */
int sio_store_room_join(struct sio_store *st, const char *sid,
                        const char *endpoint, const char *room);
int sio_store_room_leave(struct sio_store *st, const char *sid,
                         const char *endpoint, const char *room);

/*
 * Records a server-side ack awaited from the client: allocates the next ack
 * id of the session (from 1), stores the endpoint, handler name and the
 * event body. Returns the id (> 0) or SIO_ERR.
 */
long long sio_store_ack_new(struct sio_store *st, const char *sid,
                            const char *endpoint, const char *handler,
                            const char *event);
/*
 * Takes (reads and deletes) a pending ack: *handler and *event are copies
 * the caller frees with free(). SIO_OK, SIO_ABSENT when there is none with
 * that id on that endpoint, SIO_ERR.
 */
int sio_store_ack_take(struct sio_store *st, const char *sid,
                       const char *endpoint, long long id, char **handler,
                       char **event);
/* sio_store_ack_take() without the delete: a read, for a handler that
 * runs before its writes are applied (which take it then). */
int sio_store_ack_get(struct sio_store *st, const char *sid,
                      const char *endpoint, long long id, char **handler,
                      char **event);

/* Adds delta to counter name (created at 0). SIO_OK or SIO_ERR. */
int sio_store_counter_add(struct sio_store *st, const char *name,
                          long long delta);
/* The value, 0 when absent, SIO_ERR on failure (via *value unchanged). */
int sio_store_counter_get(struct sio_store *st, const char *name,
                          long long *value);

/* --- processes ------------------------------------------------------- */

/*
 * A process is known by an incarnation, never by its pid alone: a name
 * "<kind>-<pid>-<8 hex digits>" ("wsd-4242-9f3a0c1e"), the hex from
 * getrandom(), unique in the store. It names the process's doorbell and
 * the holder of what it holds, and stays alive while its lease is renewed
 * (the processes row's renewed, ms on the lease's clock: the callers' now
 * on SQLite, the wall clock every process on the database shares; on
 * PostgreSQL the server's clock, which every host shares, so that now is
 * only read for the row's started).
 *
 * process_new registers a new incarnation of kind ("gw", "wsd") for pid,
 * its lease renewed at now, and writes its name to name (unchanged on
 * error). SIO_OK or SIO_ERR. process_register registers the given name:
 * SIO_OK, SIO_FULL when another process has it, SIO_ERR. unregister
 * removes it, detaching what it held as sio_store_detach() does with
 * (from, to) (the engine: open to detached), and hands back what it had
 * taken. SIO_OK or SIO_ERR.
 */
int sio_store_process_new(struct sio_store *st, const char *kind, int pid,
                          long long now, char name[SIO_HOLDER_LEN]);
int sio_store_process_register(struct sio_store *st, const char *name, int pid,
                               long long now);
int sio_store_process_unregister(struct sio_store *st, const char *name,
                                 long long now, unsigned from, int to);

/*
 * Renews name's lease at now (once a second, by each long-running
 * process). SIO_OK; SIO_ABSENT when its row is gone: another process
 * reaped it, what it held is released, and it must fence itself (close
 * its clients, register anew with process_new); SIO_ERR.
 */
int sio_store_process_renew(struct sio_store *st, const char *name,
                            long long now);

/*
 * Unregisters, as process_unregister would, every process whose lease
 * lapsed (not renewed since now - lease_ms), whatever its pid (what it
 * held moves as unregister's from, to say), and after
 * the commit removes its doorbell file from the run directory. Returns
 * the number reaped or SIO_ERR.
 */
int sio_store_reap(struct sio_store *st, long long now, long long lease_ms,
                   unsigned from, int to);

/* --- listings for operators (sioctl) ------------------------------------ */

/* A session as an operator sees it; every string is inline. */
struct sio_store_summary {
	struct sio_store_session session; /* without its request */
	long long queue;                  /* packets in the outbox */
};

/* The word of state in the schema ("handshaken", "open", ...); static. */
const char *sio_store_state_name(enum sio_session_state state);

/*
 * Calls fn for every session in order of creation, or only for sid when sid
 * is not NULL; fn returns SIO_OK to go on, anything else to stop. fn may
 * read the store (endpoint_list, room_list) but not write it. Returns the
 * number of sessions passed to fn (0 when sid is unknown) or SIO_ERR.
 */
int sio_store_session_list(struct sio_store *st, const char *sid,
                           int (*fn)(void *udata,
                                     const struct sio_store_summary *s),
                           void *udata);

/* Calls fn for each room sid is in, with its endpoint ("" the root), in
 * order of endpoint and room. Returns the count or SIO_ERR. */
int sio_store_room_list(struct sio_store *st, const char *sid,
                        void (*fn)(void *udata, const char *endpoint,
                                   const char *room),
                        void *udata);

/* A registered process (a row of processes), for the operators. */
struct sio_store_process {
	char name[SIO_HOLDER_LEN]; /* <kind>-<host>-<pid>-<hex> */
	long long pid;
	long long started, renewed; /* ms since the epoch */
	long long sessions;         /* the sessions it holds */
};

/* Calls fn for each registered process, by name; fn returning other
 * than SIO_OK stops. Returns the count or SIO_ERR. */
int sio_store_process_list(struct sio_store *st,
                           int (*fn)(void *udata,
                                     const struct sio_store_process *p),
                           void *udata);

/* Calls fn for every counter, by name. Returns the count or SIO_ERR. */
int sio_store_counter_list(struct sio_store *st,
                           void (*fn)(void *udata, const char *name,
                                      long long value),
                           void *udata);

/*
 * Calls fn once per (state, transport) pair that has sessions, with the
 * number of sessions and of packets queued for them; transport is -1 for
 * sessions that never attached. Returns the number of calls or SIO_ERR.
 */
int sio_store_session_counts(struct sio_store *st,
                             void (*fn)(void *udata,
                                        enum sio_session_state state,
                                        int transport, long long sessions,
                                        long long queued),
                             void *udata);

/* Deletes closed sessions whose outbox is empty (their final packets went
 * out, or there were none). Returns the number deleted or SIO_ERR. */
int sio_store_cleanup_drained(struct sio_store *st);

/* --- operational stats --------------------------------------------------- */

/*
 * The numbers of stats_view (schema version 3), read in one snapshot.
 * Active sessions are those not closed (from handshake to end), active
 * connections those with a transport attached (a holder). Peaks and totals
 * are counters raised in the transactions that change what they count: the
 * peaks by the schema's triggers (version 5) on any change of a session's
 * state or holder; sessions_opened by the session engine, attach
 * (connections_opened), outbox_done and outbox_del (packets_sent, by the
 * rows deleted). The rates are the growth
 * of a total since the oldest stats_samples row of the last 10 s (at least
 * 1 s old) per second; 0 when there is none.
 */
struct sio_store_stats {
	long long active_sessions, peak_sessions;
	long long active_connections, peak_connections;
	long long sessions_opened, connections_opened;
	long long packets_sent, packets_received;
	long long queued_packets;
	double connections_ps, packets_sent_ps, packets_received_ps;
	long long time; /* the database's clock, ms since the epoch */
	/* Active sessions by the transport of their last attach. */
	long long sessions[SIO_TRANSPORT_COUNT];
	long long sessions_no_transport; /* handshaken, never attached */
};

/* Fills out, counting this connection's deferred counters; a read only.
 * SIO_OK or SIO_ERR. */
int sio_store_stats(struct sio_store *st, struct sio_store_stats *out);

/* Records a sample of the totals for the rates, unless one is under a
 * second old, and drops samples over a minute old. The sweep calls it.
 * Returns 1 when it recorded one (the process that did sweeps this
 * second), 0 when not, or SIO_ERR. */
int sio_store_stats_sample(struct sio_store *st, long long now);

#endif
