/*
 * session.h: the transport-independent rules of Socket.IO protocol 1,
 * applied to sessions in the store: the handshake with the root on_open,
 * dispatch of the packets a client sends (auto-acks, data acks, endpoint
 * connect and disconnect, events to named handlers, server-side acks),
 * ending a session exactly once, and the timeout sweep. Transports call
 * these; what the application queues lands in the outboxes in the same
 * transaction.
 */
#ifndef SIO_SESSION_H
#define SIO_SESSION_H

#include <stddef.h>

#include "config.h"
#include "payload.h"
#include "request.h"
#include "siogate.h"
#include "store.h"

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
};

/*
 * Runs a handshake: creates a session holding req (stored as
 * sio_request_to_json() keeps it under x->cfg), runs the root app's
 * on_open with req itself. Returns SIO_OK with the new id in sid,
 * SIO_REJECT when on_open refused (nothing is kept), SIO_AGAIN when
 * x->cfg's max_sessions or max_sessions_per_address live sessions already
 * exist (nothing is kept), SIO_ERR when on_open failed or the store did.
 */
int sio_session_handshake(struct sio_session_ctx *x,
                          const struct sio_request *req, long long now,
                          char sid[SIO_SID_LEN + 1]);

/*
 * Handles the n packets a client sent on session sid, in one transaction
 * (a savepoint when the caller has a transaction open, so that a batch of
 * sessions shares one commit): auto-acks, callbacks and replies. A malformed or
 * misdirected packet is dropped and described in x->err; the others go on. A
 * callback's SIO_ERR ends the session and the remaining packets are ignored.
 * Returns SIO_OK, SIO_AGAIN when the session is unknown or closed, SIO_ERR when
 * the store failed (nothing was applied).
 */
int sio_session_receive(struct sio_session_ctx *x, const char *sid,
                        const struct sio_slice *pkts, size_t n, long long now);

/*
 * Ends session sid if nobody has: on_close for each connected endpoint
 * (queuing `0::/ep`), then the root's, then `0::`, which waits for the
 * client's next request when no transport is attached (the application or
 * an operator ended it: the 0.9 client then stays away). Returns 1 when
 * this call ended it, 0 when it was already ended or unknown, SIO_ERR.
 */
int sio_session_end(struct sio_session_ctx *x, const char *sid,
                    const char *reason, long long now);

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
 * The timers of a long-running process, each SIO_SWEEP_MS: heartbeats for
 * the sessions holder holds; then, in the one process that takes this
 * second's stats sample (whichever comes first), the rest of a sweep:
 * timeouts, processes that died, long-closed sessions, and heartbeats
 * SIO_HB_LATE_MS overdue for sessions of other holders (a CGI request,
 * which runs no timers). The other processes do no more, so that N
 * processes do not each sweep every second. A NULL holder (a process
 * that holds no transport past its request: a CGI request) does nothing
 * unless it takes the sample. Returns the number of sessions ended or
 * SIO_ERR.
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
