/*
 * session.h: the transport-independent rules of Socket.IO protocol 1,
 * applied to sessions in the store: the handshake with the root on_open,
 * dispatch of the packets a client sends (auto-acks, data acks, endpoint
 * connect and disconnect, events to named handlers, server-side acks),
 * ending a session exactly once, and the timeout sweep. Transports call
 * these.
 *
 * No store lock is held while application code runs. Handling input has
 * two phases: a run (sio_session_open(), sio_session_run()) reads what it
 * needs with no transaction open, runs the callbacks and records what they
 * queue, join and store (effects.h); an apply (sio_session_apply()),
 * inside the caller's write transaction, re-checks the session, makes the
 * state change and writes those effects in order, all or nothing. A
 * transport runs the runs of a batch first, then applies them in one
 * transaction, then calls sio_session_done() for each. Ending a session
 * claims the end in a short transaction, runs on_close outside it, then
 * writes what on_close broadcast and purges the session in a second one.
 */
#ifndef SIO_SESSION_H
#define SIO_SESSION_H

#include <stddef.h>

#include "config.h"
#include "payload.h"
#include "request.h"
#include "siogate.h"
#include "store.h"

/*
 * The transitions of a session, written once (docs/internals.md shows the
 * same rows, and a test keeps the two equal). A row says: in state from
 * (SIO_SESSION_NONE: no row in the store), on event, the session moves to
 * next, and what is stored and who is told. transports: the transports
 * (bits 1 << enum sio_transport) of the session's last attach for which
 * the row applies, 0 for any. An event with no row for a state is refused:
 * nothing changes, the caller is answered as the store says (absent,
 * closed, not the holder).
 */
#define SIO_SESSION_NONE 4 /* before the handshake, after the cleanup */
#define SIO_SESSION_NSTATES 5

enum sio_session_event {
	SIO_EVENT_HANDSHAKE = 0, /* a handshake accepted */
	SIO_EVENT_REFUSED,       /* a handshake refused (on_open, limits) */
	SIO_EVENT_ATTACH,        /* a transport attaches */
	SIO_EVENT_DETACH,        /* its holder lets the transport go */
	SIO_EVENT_SUPERSEDED,    /* a holder another attach replaced lets go */
	SIO_EVENT_PACKET,        /* packets from the client */
	SIO_EVENT_HEARTBEAT_DUE, /* heartbeat_interval since the last `2::` */
	SIO_EVENT_HEARTBEAT_TIMEOUT, /* heartbeat_timeout without a packet */
	SIO_EVENT_CLOSE_TIMEOUT,     /* close_timeout without a transport */
	SIO_EVENT_END,         /* the application or an operator ends it */
	SIO_EVENT_DISCONNECT,  /* the client ends it */
	SIO_EVENT_HOLDER_GONE, /* the holder process unregistered or died */
	SIO_EVENT_CLEANUP,     /* closed and drained, or long closed */
	SIO_EVENT_FORGET,      /* later requests answered as unknown */
	SIO_EVENT_COUNT
};

struct sio_session_rule {
	int from; /* enum sio_session_state or SIO_SESSION_NONE */
	enum sio_session_event event;
	unsigned transports; /* 0: any */
	int next;            /* enum sio_session_state or SIO_SESSION_NONE */
	const char *stored;  /* what is written, for people */
	const char *told;    /* who is told, for people */
};

/* The table, SIO_SESSION_NRULES rows, and one row of it: what event does
 * in state for a session last attached on transport (-1: none); NULL when
 * the event is refused in that state. */
extern const struct sio_session_rule sio_session_rules[];
extern const size_t sio_session_nrules;
const struct sio_session_rule *sio_session_next(int state, int transport,
                                                enum sio_session_event ev);

/* The states (bits 1 << state) in which event moves the session to next
 * (from != next): what the store is told to expect, compare-and-set. */
unsigned sio_session_from(enum sio_session_event ev, int next);

/* The transports of the rows of ev, 0 when it has none. */
unsigned sio_session_transports(enum sio_session_event ev);

/*
 * The store's state changes with the table's states: each calls the
 * sio_store_* function of the same name with the states the event moves
 * a session from and to (compare-and-set), and answers as it does.
 * attach: ATTACH (handshaken, open, detached to open); detach: DETACH
 * (open to detached); claim_end: sio_store_session_end() with END (any
 * live state to closed); unregister and reap: sio_store_process_unregister()
 * and sio_store_reap() with HOLDER_GONE (open to detached);
 * heartbeat_due: the state and the transports of HEARTBEAT_DUE. Every
 * caller outside the store uses these, never the store's own.
 */
int sio_session_attach(struct sio_store *st, const char *sid, int transport,
                       const char *holder, long long conn, long long now,
                       int *hello);
int sio_session_detach(struct sio_store *st, const char *sid,
                       const char *holder, long long conn, long long now);
/* sio_store_outbox_done() then the detach, in one step of the store. */
int sio_session_done_detach(struct sio_store *st, const char *sid,
                            const char *holder, long long conn, long long now);
int sio_session_claim_end(struct sio_store *st, const char *sid,
                          const char *reason, long long now);
int sio_session_unregister(struct sio_store *st, const char *name,
                           long long now);
int sio_session_reap(struct sio_store *st, long long now, long long lease_ms);
int sio_session_heartbeat_due(struct sio_store *st, long long now,
                              long long interval_ms, const char *holder,
                              long long others_late_ms);

/* What sio_store_expired() looks for at now: a timeout per row of
 * HEARTBEAT_TIMEOUT and CLOSE_TIMEOUT, and HOLDER_GONE's move. The
 * reason a session found in state ends with: the event's name
 * ("heartbeat timeout", "close timeout"). */
void sio_session_expiry(struct sio_store_expiry *e, long long now,
                        long long heartbeat_timeout_ms,
                        long long close_timeout_ms);
const char *sio_session_expiry_reason(int state);

/* The words of the table: "handshaken", ..., "(none)"; "attach", ... */
const char *sio_session_state_name(int state);
const char *sio_session_event_name(enum sio_session_event ev);

/* The table row r as docs/internals.md writes it ("| open | detach | ..."),
 * into buf of size bytes. */
void sio_session_rule_format(const struct sio_session_rule *r, char *buf,
                             size_t size);

/* What a transport thread needs to run sessions; caller-owned. */
struct sio_session_ctx {
	struct sio_store *store;
	const struct sio_plugin *plugin;
	const struct sio_config *cfg;
	/* The clock a sweep measures steps of the wall clock against; NULL:
	 * sio_session_mono (tests set their own). */
	long long (*mono)(void);
	/* The last input problem met by sio_session_receive() ("malformed
	 * packet", "unknown endpoint '/x'"), "" when none: for the log. */
	char err[SIO_ERR_LEN];
	/* Finished runs kept for the next, at most keep_runs (0, the
	 * default: none): a process that runs batches of many sessions
	 * allocated past malloc's per-thread cache. One who sets it calls
	 * sio_session_ctx_cleanup() when done with x. */
	unsigned keep_runs, nspare;
	struct sio_session_run *spare;
};

/* Frees the runs x keeps (keep_runs); x stays usable. */
void sio_session_ctx_cleanup(struct sio_session_ctx *x);

/* What a run recorded for its apply; sio_session_done() frees it. */
struct sio_session_run;

/*
 * The run of a handshake, with no transaction open on x: draws the new
 * session's id, runs the root app's on_open with req (the session does not
 * exist in the store yet; what on_open records is applied with its
 * creation). Returns SIO_OK with the run in *out; SIO_REJECT when on_open
 * refused, SIO_ERR when
 * on_open failed or the store did (nothing is kept, *out NULL). Reads
 * x->store only when the root app has an on_open (which may read); the
 * admission is the apply's.
 */
int sio_session_open(struct sio_session_ctx *x, const struct sio_request *req,
                     long long now, struct sio_session_run **out);

/* The session id of a run; borrowed from r. */
const char *sio_session_run_sid(const struct sio_session_run *r);

/*
 * The run of the n packets a client sent on session sid, with no
 * transaction open on x: auto-acks, callbacks and replies, recorded. A
 * malformed or misdirected packet is dropped and described in x->err; the
 * others go on. A callback's SIO_ERR (or a close of the root, or `0::`)
 * records the session's end and the remaining packets are ignored.
 * Returns SIO_OK with the run in *out, SIO_CLOSED when the session is
 * unknown or closed, SIO_ERR when the store failed (*out NULL then).
 */
int sio_session_run(struct sio_session_ctx *x, const char *sid,
                    const struct sio_slice *pkts, size_t n, long long now,
                    struct sio_session_run **out);

/*
 * Applies run r in one transaction on x (a savepoint when the caller has a
 * transaction open, so that a batch of sessions shares one commit): the
 * session is re-checked (admitted and created, for a handshake), its
 * last_recv and counters move, r's effects are written in order and an end
 * it recorded is claimed. x->err describes the run's input problem, or a
 * packet dropped over the queue limit. Returns SIO_OK; SIO_CLOSED when the
 * session closed or went away since the run (nothing is written: what its
 * handlers sent, broadcast included, is dropped); SIO_FULL, for a
 * handshake, when the server is full; SIO_ERR when the store failed
 * (nothing is written).
 */
int sio_session_apply(struct sio_session_ctx *x, struct sio_session_run *r);

/*
 * After the commit of r's apply (committed: whether it committed; 0 when
 * r was never applied), with no transaction open on x: finishes the end r
 * claimed (on_close, then their broadcasts and the purge in a transaction
 * of their own), and frees r (NULL: nothing). Returns 1 when it finished
 * an end, 0 when there was none, SIO_ERR.
 */
int sio_session_done(struct sio_session_ctx *x, struct sio_session_run *r,
                     int committed);

/*
 * The first half of sio_session_done(), for a caller that finishes the
 * ends of a batch in one transaction: with no transaction open on x, runs
 * on_close for the end r claimed (committed as sio_session_done()'s);
 * sio_session_done() then writes what they did in the caller's
 * transaction (a savepoint of it), or in one of its own. Returns 1 when
 * it ran them, 0 when r has no end to finish, SIO_ERR (out of memory:
 * sio_session_done() does both halves).
 */
int sio_session_close_run(struct sio_session_ctx *x, struct sio_session_run *r,
                          int committed);

/* 1 when r's apply claimed its session's end (sio_session_done() will run
 * on_close and write), else 0. */
int sio_session_ending(const struct sio_session_run *r);

/*
 * A handshake in one go: sio_session_open() and sio_session_apply(), with
 * the new id in sid on success. Returns as those.
 */
int sio_session_handshake(struct sio_session_ctx *x,
                          const struct sio_request *req, long long now,
                          char sid[SIO_SID_LEN + 1]);

/*
 * Packets in one go, for callers with no batch: sio_session_run(),
 * sio_session_apply() and sio_session_done(). Returns SIO_OK, SIO_CLOSED
 * when the session is unknown or closed (at the run or at the apply),
 * SIO_ERR when the store failed (nothing was applied).
 */
int sio_session_receive(struct sio_session_ctx *x, const char *sid,
                        const struct sio_slice *pkts, size_t n, long long now);

/*
 * Ends session sid if nobody has: claims it with `0::` queued, which waits
 * for the client's next request when no transport is attached (the
 * application or an operator ended it: the 0.9 client then stays away);
 * then, outside the transaction, on_close for each connected endpoint,
 * then the root's (what they broadcast is applied; what they send to the
 * session itself is dropped). Returns 1 when this call ended it, 0 when it
 * was already ended or unknown, SIO_ERR. No transaction may be open on x.
 */
int sio_session_end(struct sio_session_ctx *x, const char *sid,
                    const char *reason, long long now);

/*
 * Disconnects endpoint ep (not the root) of session sid from outside its
 * callbacks, as sio_close() on ep does from inside. First the claim: in a
 * transaction, ep is removed, so that its on_close runs once whoever else
 * disconnects it or ends the session meanwhile; then ep's on_close runs
 * (its rooms still readable), then, in one transaction, what it queued is
 * applied, ep's rooms go and `0::/ep` is queued. Returns 1 when this call
 * disconnected ep, 0 when ep was not connected, SIO_CLOSED when the
 * session is absent or closed, SIO_ERR. No transaction may be open on x.
 */
int sio_session_close_endpoint(struct sio_session_ctx *x, const char *sid,
                               const char *ep, long long now);

/*
 * sio_session_end() for a client that ends its session itself (the
 * `?disconnect` GET, as a `0::` packet does): `0::` goes only to a
 * transport attached now, and every later request on sid is answered as
 * for an unknown session (sio_store_session_gone). Returns as
 * sio_session_end().
 */
int sio_session_disconnect(struct sio_session_ctx *x, const char *sid,
                           long long now);

/*
 * One round of timers: queues heartbeats that are due, ends sessions past
 * their heartbeat or close timeout (as sio_session_disconnect() does: a
 * client that comes back is told to reconnect), forgets long-closed ones.
 * Returns the number of sessions ended or SIO_ERR.
 */
int sio_session_sweep(struct sio_session_ctx *x, long long now);

/*
 * The timers of a long-running process, each SIO_SWEEP_MS: holder's lease
 * renewed, heartbeats for the sessions holder holds; then, in the one
 * process that takes this second's stats sample (whichever comes first),
 * the rest of a sweep: timeouts, processes that died, long-closed
 * sessions, and heartbeats SIO_HB_LATE_MS overdue for sessions of other
 * holders (a CGI request, which runs no timers). The other processes do
 * no more, so that N processes do not each sweep every second. A NULL
 * holder (a process that holds no transport past its request: a CGI
 * request) renews nothing and does nothing unless it takes the sample.
 * All of it, with the counters x's store keeps in memory, is one
 * transaction (an idle process writes once a second); the sessions that
 * timed out end after it, each in its own, since their on_close runs.
 * Returns the number of sessions ended, SIO_ABSENT when holder's row is
 * gone (the process was reaped: nothing was done, it must fence itself),
 * or SIO_ERR.
 */
int sio_session_timers(struct sio_session_ctx *x, const char *holder,
                       long long now);

/*
 * How often a long-running process looks at PRAGMA data_version (rows
 * written by programs that do not ring, such as the sqlite3 shell, are
 * delivered within that, plus a write), and how often it sweeps. Every
 * wakeup of sio-wsd costs a poll() over all its sockets: once a second.
 */
#define SIO_WATCH_MS 1000
#define SIO_SWEEP_MS 1000
#define SIO_HB_LATE_MS (2 * SIO_SWEEP_MS)
/* A session's last_recv moves when it is at least this old (ms). */
#define SIO_TOUCH_MS 250

/*
 * Time has two clocks here. sio_session_now(), milliseconds since the
 * epoch (CLOCK_REALTIME), is the time every stored row carries: it is
 * shared by the processes, outlives them and reads well in the views;
 * the sweeper moves the stored times by any step of it
 * (sio_store_clock_check), so that a step does not expire every session
 * nor keep them past their timeouts. sio_session_mono(), milliseconds of
 * CLOCK_BOOTTIME (never stepped, counting a suspend, the same for every
 * process of one boot), measures what one process waits for: a long
 * poll's duration, a connection's deadlines, the pool's idle time.
 */
long long sio_session_now(void);
long long sio_session_mono(void);

#endif
