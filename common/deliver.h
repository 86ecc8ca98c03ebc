/*
 * deliver.h: delivery of a session's outbox to one transport connection,
 * written once for both daemons. The holder of a connection (a long poll
 * or htmlfile stream of sio-gateway, a websocket or flashsocket of
 * sio-wsd) drives one struct sio_deliver through the same sequence:
 * attach, then takes (with `1::` first when the session never sent it),
 * each ended by written (the packets leave the outbox) or release (they
 * go back for the next transport), and a detach; between takes it asks
 * whether the session is over and when a delayed packet is due. The
 * functions run inside whatever transaction the caller holds on st (the
 * batch of sio-wsd, a write of the gateway's writer thread) or in one of
 * their own; the caller keeps the framing, the I/O and the timers.
 */
#ifndef SIO_DELIVER_H
#define SIO_DELIVER_H

#include <stddef.h>

#include "siogate.h"
#include "store.h"

/*
 * When a connection's `1::` is recorded as sent (sio_store_hello_sent()):
 * AT_TAKE in the take that passes it, taken back by a release (the
 * gateway: the client polls again as soon as it has read a response, and
 * that poll must not get `1::` again); WRITTEN once its frame is out,
 * by sio_deliver_hello_written() (sio-wsd, which writes a frame at a time).
 */
enum sio_deliver_hello {
	SIO_DELIVER_HELLO_AT_TAKE,
	SIO_DELIVER_HELLO_WRITTEN,
};

/* One connection's delivery; a caller-owned value, copied freely (it
 * holds no pointer but the borrowed holder name). */
struct sio_deliver {
	char sid[SIO_SID_LEN + 1];
	const char *holder;     /* borrowed: the process's name in the store */
	long long conn;         /* the holder's connection number */
	unsigned transport : 3; /* enum sio_transport */
	unsigned when : 1;      /* enum sio_deliver_hello */
	unsigned hello : 1;     /* `1::` goes first in the next take */
	unsigned hello_taken : 1; /* the take in flight passed `1::` */
	unsigned taken : 1;       /* the take in flight took packets */
	unsigned blocked : 1;     /* the last look stopped behind another
	                             writer's packets (it rings when done) */
	int dropped;              /* rows the last take deleted unread */
};

/* Sets d up for (holder, conn) on session sid over transport; nothing is
 * attached yet. holder is borrowed for d's life. */
void sio_deliver_init(struct sio_deliver *d, const char *sid, int transport,
                      const char *holder, long long conn,
                      enum sio_deliver_hello when);

/*
 * Attaches d's connection to its session, superseding the previous
 * holder; d->hello says whether `1::` goes out first (the next take
 * passes it). SIO_OK, SIO_CLOSED when the session is closed or absent,
 * SIO_ERR (the store's message says why).
 */
int sio_deliver_attach(struct sio_deliver *d, struct sio_store *st,
                       long long now);

/* The session's state (enum sio_session_state) while d's connection
 * holds it, SIO_ABSENT when it no longer does (superseded, or the session
 * is gone), SIO_ERR. */
int sio_deliver_holds(struct sio_deliver *d, struct sio_store *st);

/*
 * 1 when a take would find a packet (due by now, taken by nobody, behind
 * none that another writer took), 0 when not: a read, without marking
 * anything. A store error says 1, so that the take reports it. Sets
 * d->blocked.
 */
int sio_deliver_ready(struct sio_deliver *d, struct sio_store *st,
                      long long now);

/*
 * Calls fn with `1::` first when d->hello, then for up to max packets (the
 * `1::` counted) of the session due by now, in order, taking them for d's
 * connection; fn returns SIO_OK to go on, anything else to stop (that
 * packet is not taken). Sets d->blocked (it stopped behind another
 * writer's packets: that writer rings when done) and d->dropped (rows
 * deleted unread: not valid UTF-8, or empty). Returns the number passed
 * to fn, or SIO_ERR (d unchanged but for blocked and dropped). What is
 * passed stays taken until sio_deliver_written() or _release().
 */
int sio_deliver_take(struct sio_deliver *d, struct sio_store *st, long long now,
                     size_t max,
                     int (*fn)(void *udata, const char *pkt, size_t len),
                     void *udata);

/*
 * Whether d may use sio_deliver_done_take(): the store has it, and no
 * `1::` waits to be taken or recorded (that goes in a transaction).
 */
int sio_deliver_can_done_take(const struct sio_deliver *d,
                              struct sio_store *st);

/*
 * Outside any transaction, without the writers' lock, in one step
 * (sio_store_outbox_done_take()): the done of what the last take passed,
 * all of it written, as sio_deliver_written(); then, when max > 0, a take
 * as sio_deliver_take() while d holds its session (*state: as
 * sio_deliver_holds()). The number taken; SIO_AGAIN: the done made,
 * nothing taken (what fn got is void), take in a transaction; or SIO_ERR:
 * what it did is unknown, and sio_deliver_release() hands back what the
 * connection may hold. *more: more may wait than it took.
 */
int sio_deliver_done_take(struct sio_deliver *d, struct sio_store *st,
                          long long now, size_t max,
                          int (*fn)(void *udata, const char *pkt, size_t len),
                          void *udata, int *state, int *more);

/* What the last take passed was written: its packets leave the outbox
 * (and `1::`, in mode WRITTEN, is recorded). SIO_OK (also with nothing
 * taken) or SIO_ERR. */
int sio_deliver_written(struct sio_deliver *d, struct sio_store *st);

/* The write of the last take failed: its packets go back to the outbox
 * for the next transport, and a `1::` it passed goes first again (in mode
 * AT_TAKE, its record is taken back). SIO_OK or SIO_ERR. */
int sio_deliver_release(struct sio_deliver *d, struct sio_store *st);

/* In mode WRITTEN: the `1::` the take in flight passed is out; recorded
 * now, whatever becomes of the packets after it. SIO_OK or SIO_ERR. */
int sio_deliver_hello_written(struct sio_deliver *d, struct sio_store *st);

/* Detaches d's connection if it still holds the session (the close
 * timeout starts). SIO_OK or SIO_ERR. */
int sio_deliver_detach(struct sio_deliver *d, struct sio_store *st,
                       long long now);

/* sio_deliver_written(), then sio_deliver_detach(), in one step of the
 * store where it makes them one. SIO_OK or SIO_ERR. */
int sio_deliver_written_detach(struct sio_deliver *d, struct sio_store *st,
                               long long now);

/*
 * 1 when the session is over for d's connection: closed (or gone), and
 * its final packets out or in d's own hands (the last take or ready
 * stopped behind no other writer's; what d took is the caller's to
 * write before it closes). 0 when not, or when the store fails (the
 * caller looks again later). The one closed-check of both daemons.
 */
int sio_deliver_over(struct sio_deliver *d, struct sio_store *st);

/* The earliest due time after now among the session's queued packets, in
 * *due: when to look again. SIO_OK, SIO_ABSENT when none waits, SIO_ERR. */
int sio_deliver_next_due(struct sio_deliver *d, struct sio_store *st,
                         long long now, long long *due);

#endif
