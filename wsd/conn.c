/*
 * conn.c: one websocket or flashsocket connection of a session, whatever
 * its framing. A connection attaches as holder (wsd-<pid>, conn); packets
 * leave the outbox one at a time, each taken when a writeable callback
 * comes, written, then deleted, so a slow client's backlog stays in the
 * store and never in this process. Doorbell rings name a sid; the table
 * here finds that sid's connections (a superseded one stays in the table
 * but no longer writes).
 */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "wsd.h"

#define CONN_BUCKETS 4096

static struct wsd_conn *conn_table[CONN_BUCKETS];
static long long conn_counter;
static int conn_open;

static unsigned
conn_hash(const char *sid)
{
	unsigned h = 2166136261u;

	for (; *sid != '\0'; sid++)
		h = (h ^ (unsigned char)*sid) * 16777619u;
	return h % CONN_BUCKETS;
}

static void
conn_link(struct wsd_conn *c)
{
	unsigned h = conn_hash(c->sid);

	c->next = conn_table[h];
	conn_table[h] = c;
	c->linked = 1;
	conn_open++;
}

static void
conn_unlink(struct wsd_conn *c)
{
	struct wsd_conn **pp = &conn_table[conn_hash(c->sid)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->linked = 0;
	conn_open--;
}

/* Asks lws for a writeable callback; the wait counts towards a stall. */
static void
conn_want_write(struct wsd_conn *c)
{
	if (c->want_since == 0)
		c->want_since = sio_session_now();
	lws_callback_on_writable(c->wsi);
}

int
wsd_conn_open(struct wsd_conn *c, struct lws *wsi, const char *sid,
              int transport)
{
	struct sio_store *st = wsd.x.store;
	int changed = 0, rc;

	c->wsi = wsi;
	c->transport = transport;
	c->conn = ++conn_counter;
	snprintf(c->sid, sizeof(c->sid), "%s", sid);
	sio_buf_init(&c->rx);
	sio_buf_init(&c->tx);
	rc = sio_store_attach(st, c->sid, transport, wsd.holder, c->conn,
	                      sio_session_now(), &changed);
	if (rc == SIO_ERR) {
		wsd_log(SIO_LOG_ERROR, "%s: attach: %s", c->sid,
		        sio_store_errmsg(st));
		return SIO_ERR;
	}
	if (rc == SIO_AGAIN) {
		wsd_log(SIO_LOG_INFO, "%s: unknown or closed session", c->sid);
		c->gone = 1;
	} else {
		c->hello = changed != 0;
		wsd_log(SIO_LOG_DEBUG, "%s: attached %s conn %lld", c->sid,
		        sio_config_transport_name((enum sio_transport)transport),
		        c->conn);
	}
	conn_link(c);
	conn_want_write(c);
	return SIO_OK;
}

int
wsd_conn_receive(struct wsd_conn *c, const char *msg, size_t len)
{
	struct sio_slice pkt = {msg, len};
	int rc;

	if (c->gone || c->conn == 0)
		return SIO_OK;
	wsd.x.err[0] = '\0';
	rc = sio_session_receive(&wsd.x, c->sid, &pkt, 1, sio_session_now());
	if (wsd.x.err[0] != '\0')
		wsd_log(SIO_LOG_INFO, "%s: %s", c->sid, wsd.x.err);
	if (rc == SIO_ERR) {
		wsd_log(SIO_LOG_ERROR, "%s: receive: %s", c->sid,
		        sio_store_errmsg(wsd.x.store));
		return SIO_ERR;
	}
	if (rc == SIO_AGAIN)
		wsd_log(SIO_LOG_DEBUG, "%s: packet for an ended session",
		        c->sid);
	/* Replies were queued and our own bell rung; asking here saves the
	 * round trip through the doorbell. */
	conn_want_write(c);
	return SIO_OK;
}

/* Puts pkt after the headroom in c->tx. */
static int
conn_put(struct wsd_conn *c, size_t headroom, const char *pkt, size_t len)
{
	sio_buf_reset(&c->tx);
	while (c->tx.len < headroom)
		if (sio_buf_putc(&c->tx, 0) != SIO_OK)
			return SIO_ERR;
	return sio_buf_append(&c->tx, pkt, len);
}

struct conn_take {
	struct wsd_conn *c;
	size_t headroom;
};

static int
conn_take_one(void *udata, const char *pkt, size_t len)
{
	struct conn_take *t = udata;

	return conn_put(t->c, t->headroom, pkt, len);
}

/* 1 when the session is closed or gone: its socket should close. */
static int
conn_session_ended(struct wsd_conn *c)
{
	struct sio_store_session ss;
	int rc = sio_store_session_get(wsd.x.store, c->sid, &ss), ended;

	if (rc != SIO_OK)
		return rc == SIO_AGAIN;
	ended = ss.state == SIO_SESSION_CLOSED;
	sio_store_session_cleanup(&ss);
	return ended;
}

/* Nothing is due now: wake up again when a delayed packet is. */
static void
conn_wait_due(struct wsd_conn *c, long long now)
{
	long long due;

	if (sio_store_outbox_next_due(wsd.x.store, c->sid, now, &due) ==
	    SIO_OK)
		lws_set_timer_usecs(c->wsi,
		                    (due > now ? due - now : 1) * 1000LL);
}

enum wsd_conn_step
wsd_conn_next(struct wsd_conn *c, size_t headroom)
{
	struct sio_store *st = wsd.x.store;
	struct conn_take t = {c, headroom};
	long long now = sio_session_now();
	int n;

	c->want_since = 0; /* the writeable callback came */
	if (c->closing || c->taken)
		return c->closing ? WSD_CONN_CLOSE : WSD_CONN_IDLE;
	if (c->hello) {
		c->hello = 0;
		return conn_put(c, headroom, "1::", 3) == SIO_OK
		           ? WSD_CONN_WRITE
		           : WSD_CONN_CLOSE;
	}
	if (!c->gone && !sio_store_is_holder(st, c->sid, wsd.holder, c->conn)) {
		/* Protocol 5.6: a superseded websocket is not closed, or the
		 * 0.9 client would tear down the transport it fell back to. */
		if (!c->superseded)
			wsd_log(SIO_LOG_DEBUG, "%s: conn %lld superseded",
			        c->sid, c->conn);
		c->superseded = 1;
		return WSD_CONN_IDLE;
	}
	n = sio_store_outbox_take(st, c->sid, now, 1, wsd.holder, c->conn,
	                          conn_take_one, &t);
	if (n < 0) {
		wsd_log(SIO_LOG_ERROR, "%s: outbox: %s", c->sid,
		        sio_store_errmsg(st));
		sio_store_outbox_release(st, c->sid, wsd.holder, c->conn);
		return WSD_CONN_IDLE; /* the next tick tries again */
	}
	if (n > 0) {
		c->taken = 1;
		return WSD_CONN_WRITE;
	}
	if (c->gone && !c->sent) {
		c->closing = 1; /* protocol 1.5: one frame, then close */
		return conn_put(c, headroom, "7:::1+0", 7) == SIO_OK
		           ? WSD_CONN_WRITE
		           : WSD_CONN_CLOSE;
	}
	if (c->gone || conn_session_ended(c)) {
		wsd_log(SIO_LOG_DEBUG, "%s: session ended", c->sid);
		c->closing = 1;
		return WSD_CONN_CLOSE;
	}
	conn_wait_due(c, now);
	return WSD_CONN_IDLE;
}

void
wsd_conn_written(struct wsd_conn *c, int ok)
{
	struct sio_store *st = wsd.x.store;
	int rc;

	if (ok)
		c->sent = 1;
	if (c->taken) {
		c->taken = 0;
		rc = ok ? sio_store_outbox_done(st, c->sid, wsd.holder, c->conn)
		        : sio_store_outbox_release(st, c->sid, wsd.holder,
		                                   c->conn);
		if (rc != SIO_OK)
			wsd_log(SIO_LOG_ERROR, "%s: outbox %s: %s", c->sid,
			        ok ? "delete" : "release", sio_store_errmsg(st));
	}
	/* Large packets leave a big buffer behind; do not keep it. */
	if (c->tx.cap > 65536)
		sio_buf_cleanup(&c->tx);
	if (ok)
		conn_want_write(c);
}

void
wsd_conn_close(struct wsd_conn *c, const char *reason)
{
	struct sio_store *st = wsd.x.store;

	if (c->conn == 0)
		return; /* never opened (rejected before ESTABLISHED) */
	if (c->taken)
		wsd_conn_written(c, 0);
	if (!c->gone &&
	    sio_store_detach(st, c->sid, wsd.holder, c->conn,
	                     sio_session_now()) != SIO_OK)
		wsd_log(SIO_LOG_ERROR, "%s: detach: %s", c->sid,
		        sio_store_errmsg(st));
	wsd_log(SIO_LOG_DEBUG, "%s: conn %lld closed: %s", c->sid, c->conn,
	        reason);
	if (c->linked)
		conn_unlink(c);
	sio_buf_cleanup(&c->rx);
	sio_buf_cleanup(&c->tx);
	c->conn = 0;
}

void
wsd_conn_ring(const char *sid)
{
	struct wsd_conn *c;

	if (sid != NULL) {
		for (c = conn_table[conn_hash(sid)]; c != NULL; c = c->next)
			if (strcmp(c->sid, sid) == 0)
				conn_want_write(c);
		return;
	}
	for (unsigned h = 0; h < CONN_BUCKETS; h++)
		for (c = conn_table[h]; c != NULL; c = c->next)
			conn_want_write(c);
}

void
wsd_conn_close_all(void)
{
	for (unsigned h = 0; h < CONN_BUCKETS; h++)
		for (struct wsd_conn *c = conn_table[h]; c != NULL; c = c->next) {
			c->closing = c->going_away = 1;
			lws_callback_on_writable(c->wsi);
		}
}

void
wsd_conn_check_stalled(void)
{
	long long now = sio_session_now(), stuck;
	long long limit = 2000LL * wsd.cfg.heartbeat_timeout;
	const char *why;

	if (limit < 10000)
		limit = 10000;
	for (unsigned h = 0; h < CONN_BUCKETS; h++)
		for (struct wsd_conn *c = conn_table[h]; c != NULL; c = c->next) {
			if (c->want_since == 0 || c->killed || c->going_away)
				continue;
			stuck = now - c->want_since;
			if (stuck < 1000)
				continue;
			if (stuck >= limit)
				why = "no write possible";
			else if (c->gone || conn_session_ended(c))
				why = "session ended while no write possible";
			else
				continue;
			wsd_log(SIO_LOG_INFO,
			        "%s: conn %lld: %s for %lld s (the client does "
			        "not read): socket dropped",
			        c->sid, c->conn, why, stuck / 1000);
			c->killed = 1;
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
			                LWS_TO_KILL_ASYNC);
		}
}

int
wsd_conn_count(void)
{
	return conn_open;
}
