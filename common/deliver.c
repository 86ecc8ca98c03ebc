/*
 * deliver.c: the sequence a transport connection of either daemon drives
 * to deliver its session's outbox (deliver.h), over the store's
 * operations: attach, take, written or release, detach, and the checks
 * between takes. The rules that make fallback work live here once: `1::`
 * goes first on a session that never sent it, and nothing leaves the
 * outbox before the holder says it was written.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "deliver.h"
#include "session.h"

void
sio_deliver_init(struct sio_deliver *d, const char *sid, int transport,
                 const char *holder, long long conn,
                 enum sio_deliver_hello when)
{
	memset(d, 0, sizeof(*d));
	sio_buf_copy(d->sid, sizeof(d->sid), sid);
	d->holder = holder;
	d->conn = conn;
	d->transport = (unsigned)transport & 7;
	d->when = when;
}

int
sio_deliver_attach(struct sio_deliver *d, struct sio_store *st, long long now)
{
	int hello = 0, rc;

	rc = sio_session_attach(st, d->sid, (int)d->transport, d->holder,
	                        d->conn, now, &hello);
	if (rc == SIO_OK)
		d->hello = hello != 0;
	return rc == SIO_ABSENT ? SIO_CLOSED : rc; /* gone: as closed */
}

int
sio_deliver_holds(struct sio_deliver *d, struct sio_store *st)
{
	return sio_store_holder_state(st, d->sid, d->holder, d->conn);
}

static int
deliver_count(void *udata, const char *pkt, size_t len)
{
	(void)udata;
	(void)pkt;
	(void)len;
	return SIO_OK;
}

int
sio_deliver_ready(struct sio_deliver *d, struct sio_store *st, long long now)
{
	long long last;
	int n = sio_store_outbox_peek(st, d->sid, now, 1, d->holder, d->conn,
	                              deliver_count, NULL, &last);

	d->blocked = n == 0 && sio_store_outbox_blocked(st);
	return n != 0;
}

int
sio_deliver_take(struct sio_deliver *d, struct sio_store *st, long long now,
                 size_t max,
                 int (*fn)(void *udata, const char *pkt, size_t len),
                 void *udata)
{
	int hello = 0, n;

	d->blocked = 0;
	d->dropped = 0;
	if (max == 0)
		return 0;
	if (d->hello && fn(udata, "1::", 3) == SIO_OK) {
		hello = 1;
		max--;
	}
	n = sio_store_outbox_take(st, d->sid, now, max, d->holder, d->conn, fn,
	                          udata);
	if (n < 0)
		return SIO_ERR;
	d->blocked = sio_store_outbox_blocked(st) != 0;
	d->dropped = sio_store_outbox_dropped(st);
	if (hello && d->when == SIO_DELIVER_HELLO_AT_TAKE &&
	    sio_store_hello_sent(st, d->sid, 1) != SIO_OK)
		return SIO_ERR;
	if (hello) {
		d->hello = 0;
		d->hello_taken = 1;
	}
	if (n > 0)
		d->taken = 1;
	return n + hello;
}

/* After the done of what the last take passed (rc): `1::`, in mode
 * WRITTEN, recorded, and d ready for its next take. */
static int
deliver_written_rest(struct sio_deliver *d, struct sio_store *st, int rc)
{
	if (rc == SIO_OK && d->hello_taken &&
	    d->when == SIO_DELIVER_HELLO_WRITTEN)
		rc = sio_store_hello_sent(st, d->sid, 1);
	if (rc == SIO_OK)
		d->taken = d->hello_taken = 0;
	return rc;
}

int
sio_deliver_written(struct sio_deliver *d, struct sio_store *st)
{
	int rc = SIO_OK;

	if (d->taken)
		rc = sio_store_outbox_done(st, d->sid, d->holder, d->conn);
	return deliver_written_rest(d, st, rc);
}

int
sio_deliver_can_done_take(const struct sio_deliver *d, struct sio_store *st)
{
	return sio_store_can_done_take(st) && !d->hello && !d->hello_taken;
}

int
sio_deliver_done_take(struct sio_deliver *d, struct sio_store *st,
                      long long now, size_t max,
                      int (*fn)(void *udata, const char *pkt, size_t len),
                      void *udata, int *state, int *more)
{
	int n;

	d->blocked = 0;
	d->dropped = 0;
	*more = 0;
	*state = SIO_ABSENT;
	if (!sio_deliver_can_done_take(d, st))
		return SIO_ERR; /* its caller asks first */
	n = sio_store_outbox_done_take(st, d->sid, now, max, d->holder, d->conn,
	                               d->taken, fn, udata, state, more);
	if (n == SIO_ERR) {
		d->taken = 1; /* maybe: a release hands it all back */
		return SIO_ERR;
	}
	d->taken = n > 0;
	d->blocked = sio_store_outbox_blocked(st) != 0;
	return n;
}

int
sio_deliver_release(struct sio_deliver *d, struct sio_store *st)
{
	int rc = SIO_OK;

	if (d->taken)
		rc = sio_store_outbox_release(st, d->sid, d->holder, d->conn);
	/* a client that never got it gets it on its next transport */
	if (rc == SIO_OK && d->hello_taken &&
	    d->when == SIO_DELIVER_HELLO_AT_TAKE)
		rc = sio_store_hello_sent(st, d->sid, 0);
	if (rc == SIO_OK) {
		if (d->hello_taken)
			d->hello = 1; /* first again on the next take */
		d->taken = d->hello_taken = 0;
	}
	return rc;
}

int
sio_deliver_hello_written(struct sio_deliver *d, struct sio_store *st)
{
	if (!d->hello_taken || d->when != SIO_DELIVER_HELLO_WRITTEN)
		return SIO_OK;
	if (sio_store_hello_sent(st, d->sid, 1) != SIO_OK)
		return SIO_ERR;
	d->hello_taken = 0;
	return SIO_OK;
}

int
sio_deliver_detach(struct sio_deliver *d, struct sio_store *st, long long now)
{
	return sio_session_detach(st, d->sid, d->holder, d->conn, now);
}

int
sio_deliver_written_detach(struct sio_deliver *d, struct sio_store *st,
                           long long now)
{
	int rc;

	if (!d->taken) {
		rc = sio_deliver_written(d, st);
		return rc == SIO_OK ? sio_deliver_detach(d, st, now) : rc;
	}
	rc = sio_session_done_detach(st, d->sid, d->holder, d->conn, now);
	return deliver_written_rest(d, st, rc);
}

int
sio_deliver_over(struct sio_deliver *d, struct sio_store *st)
{
	long long last_recv;
	int state = sio_store_session_state(st, d->sid, &last_recv);

	if (state == SIO_ERR)
		return 0;
	/* behind what another writer took, the final packets wait for the
	 * ring of its end */
	return (state == SIO_ABSENT || state == SIO_SESSION_CLOSED) &&
	       !d->blocked;
}

int
sio_deliver_next_due(struct sio_deliver *d, struct sio_store *st, long long now,
                     long long *due)
{
	return sio_store_outbox_next_due(st, d->sid, now, due);
}
