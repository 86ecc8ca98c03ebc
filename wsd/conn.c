/*
 * conn.c: one websocket or flashsocket connection of a session, whatever
 * its framing, and the batch that serves them all. A connection attaches
 * as holder (the process's name, conn). What it receives, what it has
 * written and what it wants to take are not sent to the store one by one: the
 * connection goes on the dirty list, and once per turn of the event loop
 * one transaction serves the whole list (conn_flush): packets written are
 * deleted, packets received run through the session engine (a savepoint
 * each), then the packets ready for each connection are taken, in order,
 * into its memory queue, which the writeable callbacks write one frame at
 * a time. A slow client's backlog stays in the store (a take is at most
 * CONN_TAKE_MAX packets). Doorbell rings name a sid; the table here finds
 * that sid's connections (a superseded one stays in the table but no
 * longer writes). A closed connection that was attached leaves a record
 * on the dirty list so that its last packets in, its done or release and
 * its detach are in the next batch too. Where a connection is in its life
 * is one state (enum wsd_conn_state), moved by conn_event() alone. The
 * bytes of unfinished messages the connections hold are counted here as
 * well, for the process (max_buffered) and for each client address (its
 * share), so that one client cannot take them all.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <libwebsockets.h>

#include "hash.h"
#include "wsd.h"

#define CONN_BUCKETS 4096
#define CONN_TAKE_MAX 64 /* packets taken at once for one connection */
#define CONN_ADDR_BUCKETS 1024

static struct wsd_conn *conn_table[CONN_BUCKETS];
static long long conn_counter;
static int conn_open;

/* The store's errors, a line per session and turn when the database
 * is locked or full: written at most SIO_LOG_BURST times a minute. */
static struct sio_ratelimit conn_store_rl;
/* The dirty list, in the order connections joined it, and its flush. */
static struct wsd_conn *dirty_head, *dirty_tail;
static struct lws_context *conn_lws;
static lws_sorted_usec_list_t flush_sul;
static int flush_scheduled;
/* the flush scheduled is the late one of conn_dirty_late() */
static int flush_late;

static unsigned
conn_hash(const char *sid)
{
	return sio_hash(sid) % CONN_BUCKETS;
}

static void
conn_link(struct wsd_conn *c)
{
	unsigned h = conn_hash(c->d.sid);

	c->next = conn_table[h];
	conn_table[h] = c;
	conn_open++;
}

static void
conn_unlink(struct wsd_conn *c)
{
	struct wsd_conn **pp = &conn_table[conn_hash(c->d.sid)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	conn_open--;
}

/* The client addresses of the open connections: how many each has, and
 * the bytes they hold together (under the share). */
struct wsd_conn_addr {
	char addr[WSD_ADDR_LEN];
	unsigned nconn;
	size_t held;
	struct wsd_conn_addr *next;
};

static struct wsd_conn_addr *conn_addrs[CONN_ADDR_BUCKETS];

static struct wsd_conn_addr **
conn_addr_find(const char *addr)
{
	unsigned h = conn_hash(addr) % CONN_ADDR_BUCKETS;
	struct wsd_conn_addr **p;

	for (p = &conn_addrs[h]; *p != NULL; p = &(*p)->next)
		if (strcmp((*p)->addr, addr) == 0)
			break;
	return p;
}

/* addr's entry, made or shared; NULL when out of memory (its
 * connection then counts under the total only). */
static struct wsd_conn_addr *
conn_addr_ref(const char *addr)
{
	struct wsd_conn_addr **p, *a;
	char key[WSD_ADDR_LEN];

	snprintf(key, sizeof(key), "%s", addr != NULL ? addr : "");
	p = conn_addr_find(key);
	if ((a = *p) == NULL) {
		if ((a = calloc(1, sizeof(*a))) == NULL)
			return NULL;
		memcpy(a->addr, key, sizeof(key));
		*p = a;
	}
	a->nconn++;
	return a;
}

static void
conn_addr_unref(struct wsd_conn_addr *a)
{
	struct wsd_conn_addr **p;

	if (a == NULL || --a->nconn > 0)
		return;
	assert(a->held == 0);
	p = conn_addr_find(a->addr);
	*p = a->next;
	free(a);
}

static void conn_flush_cb(lws_sorted_usec_list_t *sul);

/* How long the done of written packets may wait for a batch that has
 * something else to do (conn_dirty_late()). */
#define CONN_LATE_US 20000

/* Puts c on the dirty list. */
static void
conn_list_dirty(struct wsd_conn *c)
{
	if (!c->dirty) {
		c->dirty = 1;
		c->dnext = NULL;
		c->dprev = dirty_tail;
		if (dirty_tail != NULL)
			dirty_tail->dnext = c;
		else
			dirty_head = c;
		dirty_tail = c;
	}
}

/* Puts c on the dirty list and makes sure a flush is coming. */
static void
conn_dirty(struct wsd_conn *c)
{
	conn_list_dirty(c);
	if ((!flush_scheduled || flush_late) && conn_lws != NULL) {
		flush_scheduled = 1;
		flush_late = 0;
		/* due at once: it runs before the loop's next poll, after
		 * everything this turn read */
		lws_sul_schedule(conn_lws, 0, &flush_sul, conn_flush_cb, 1);
	}
}

/*
 * conn_dirty() for what may wait CONN_LATE_US: the done of packets
 * written when nothing else is asked. The next batch, whoever asks for
 * it, carries it; alone, it comes that much later. A transaction of its
 * own for each done would take the writers' turn (PostgreSQL's lock)
 * between every two packets rung to this process.
 */
static void
conn_dirty_late(struct wsd_conn *c)
{
	conn_list_dirty(c);
	if (!flush_scheduled && conn_lws != NULL) {
		flush_scheduled = flush_late = 1;
		lws_sul_schedule(conn_lws, 0, &flush_sul, conn_flush_cb,
		                 CONN_LATE_US);
	}
}

static void
conn_dirty_remove(struct wsd_conn *c)
{
	if (c->dprev != NULL)
		c->dprev->dnext = c->dnext;
	else
		dirty_head = c->dnext;
	if (c->dnext != NULL)
		c->dnext->dprev = c->dprev;
	else
		dirty_tail = c->dprev;
	c->dirty = 0;
}

/* Puts n in c's place on the dirty list (c is about to be freed). */
static void
conn_dirty_replace(struct wsd_conn *c, struct wsd_conn *n)
{
	n->dirty = 1;
	n->dprev = c->dprev;
	n->dnext = c->dnext;
	if (c->dprev != NULL)
		c->dprev->dnext = n;
	else
		dirty_head = n;
	if (c->dnext != NULL)
		c->dnext->dprev = n;
	else
		dirty_tail = n;
	c->dirty = 0;
}

/* Asks lws for a writeable callback; the wait counts towards a stall. */
static void
conn_want_write(struct wsd_conn *c)
{
	if (c->want_since == 0)
		c->want_since = sio_session_mono();
	lws_callback_on_writable(c->wsi);
}

/* c should look in the store: for packets (take) and, when rung, for the
 * end of its session and delayed packets. */
static void
conn_want_take(struct wsd_conn *c, int rung)
{
	c->want_take = 1;
	if (rung)
		c->rung = 1;
	conn_dirty(c);
}

/* 1 when a connection in state s may be its session's holder in the
 * store: its close detaches (in the batch, from a record). */
static int
conn_attached(enum wsd_conn_state s)
{
	switch (s) {
	case WSD_STATE_LIVE:
	case WSD_STATE_SUPERSEDED:
	case WSD_STATE_ENDED:
	case WSD_STATE_CLOSING:
		return 1;
	case WSD_STATE_NEW:
	case WSD_STATE_ATTACHING:
	case WSD_STATE_GONE:
	case WSD_STATE_DROPPING:
	case WSD_STATE_CLOSED:
		break;
	}
	return 0;
}

/* What moves a connection from one state to the next (conn_event()). */
enum conn_event {
	CONN_EV_OPEN,       /* wsd_conn_open() */
	CONN_EV_ATTACHED,   /* the batch attached it */
	CONN_EV_UNKNOWN,    /* the attach found the session closed or absent */
	CONN_EV_FAILED,     /* the attach failed (the store's error) */
	CONN_EV_SUPERSEDED, /* a take found another holder */
	CONN_EV_ENDED,      /* a take found the session closed, nothing left */
	CONN_EV_LAST,       /* wsd_conn_next() hands out its last write */
	CONN_EV_STOP,       /* the server stops: wsd_conn_close_all() */
	CONN_EV_CLOSED,     /* the socket closed: wsd_conn_close() */
};

/*
 * The one place where c's state moves. The callers do what comes with a
 * move (in brackets); everything else (what the batch takes, what
 * wsd_conn_next() writes, what the direct path accepts) follows from the
 * state alone.
 *
 *  state                   event       next        and
 *  NEW                     OPEN        ATTACHING   [linked, dirty]
 *  ATTACHING               ATTACHED    LIVE        [`1::` first if the
 *                                                   store says; a take]
 *  ATTACHING               UNKNOWN     GONE        [asks to write]
 *  ATTACHING               FAILED      DROPPING    [asks to write]
 *  LIVE, SUPERSEDED        SUPERSEDED  SUPERSEDED  logged once (protocol
 *                                                  5.6: not closed)
 *  LIVE                    ENDED       ENDED       [asks to write]
 *  GONE                    LAST        DROPPING    [`7:::1+0` is written]
 *  ENDED                   LAST        CLOSING     [the close is written]
 *  LIVE, SUPERSEDED,       STOP        CLOSING     [going_away, asks to
 *  ENDED, CLOSING                                   write]
 *  ATTACHING, GONE,        STOP        DROPPING    [going_away, asks to
 *  DROPPING                                         write]
 *  any but NEW, CLOSED     CLOSED      CLOSED      [unlinked; a record of
 *                                                   one attached: done or
 *                                                   release, packets in,
 *                                                   detach]
 *
 * Any other pair is a programmer's error. A connection that stops before
 * its attach never attaches (DROPPING); one that closes in ATTACHING
 * leaves nothing for the batch.
 */
static void
conn_event(struct wsd_conn *c, enum conn_event ev)
{
	enum wsd_conn_state s = c->state;

	switch (ev) {
	case CONN_EV_OPEN:
		assert(s == WSD_STATE_NEW);
		c->state = WSD_STATE_ATTACHING;
		break;
	case CONN_EV_ATTACHED:
		assert(s == WSD_STATE_ATTACHING);
		c->state = WSD_STATE_LIVE;
		break;
	case CONN_EV_UNKNOWN:
		assert(s == WSD_STATE_ATTACHING);
		c->state = WSD_STATE_GONE;
		break;
	case CONN_EV_FAILED:
		assert(s == WSD_STATE_ATTACHING);
		c->state = WSD_STATE_DROPPING;
		break;
	case CONN_EV_SUPERSEDED:
		assert(s == WSD_STATE_LIVE || s == WSD_STATE_SUPERSEDED);
		if (s == WSD_STATE_LIVE)
			wsd_log(SIO_LOG_DEBUG, "%s: conn %lld superseded",
			        c->d.sid, c->d.conn);
		c->state = WSD_STATE_SUPERSEDED;
		break;
	case CONN_EV_ENDED:
		assert(s == WSD_STATE_LIVE);
		c->state = WSD_STATE_ENDED;
		break;
	case CONN_EV_LAST:
		assert(s == WSD_STATE_GONE || s == WSD_STATE_ENDED);
		c->state = s == WSD_STATE_GONE ? WSD_STATE_DROPPING
		                               : WSD_STATE_CLOSING;
		break;
	case CONN_EV_STOP:
		assert(s != WSD_STATE_NEW && s != WSD_STATE_CLOSED);
		c->state =
		    conn_attached(s) ? WSD_STATE_CLOSING : WSD_STATE_DROPPING;
		break;
	case CONN_EV_CLOSED:
		assert(s != WSD_STATE_NEW && s != WSD_STATE_CLOSED);
		c->state = WSD_STATE_CLOSED;
		break;
	}
}

/* 1 when c reads packets from its client (and runs them): from its open
 * until it closes, or is told that it should. */
static int
conn_reads(const struct wsd_conn *c)
{
	switch (c->state) {
	case WSD_STATE_ATTACHING:
	case WSD_STATE_LIVE:
	case WSD_STATE_SUPERSEDED:
	case WSD_STATE_ENDED:
		return 1;
	case WSD_STATE_NEW:
	case WSD_STATE_CLOSING:
	case WSD_STATE_GONE:
	case WSD_STATE_DROPPING:
	case WSD_STATE_CLOSED:
		break;
	}
	return 0;
}

/* 1 when c's socket closes once what it has to write is out: its session
 * is over (or was never there), or the server stops. */
static int
conn_closes(const struct wsd_conn *c)
{
	switch (c->state) {
	case WSD_STATE_ENDED:
	case WSD_STATE_CLOSING:
	case WSD_STATE_GONE:
	case WSD_STATE_DROPPING:
		return 1;
	case WSD_STATE_NEW:
	case WSD_STATE_ATTACHING:
	case WSD_STATE_LIVE:
	case WSD_STATE_SUPERSEDED:
	case WSD_STATE_CLOSED:
		break;
	}
	return 0;
}

/* Appends one queue entry (a 4-byte length, then the bytes) to q. */
static int
conn_q_put(struct sio_buf *q, const char *p, size_t len)
{
	uint32_t n = (uint32_t)len;

	if (len > UINT32_MAX || sio_buf_append(q, &n, sizeof(n)) != SIO_OK)
		return SIO_ERR;
	return sio_buf_append(q, p, len);
}

/* The entry at *off in q, advancing *off; 0 at the end. */
static int
conn_q_get(const struct sio_buf *q, size_t *off, struct sio_slice *out)
{
	uint32_t n;

	if (*off + sizeof(n) > q->len)
		return 0;
	memcpy(&n, q->p + *off, sizeof(n));
	out->p = q->p + *off + sizeof(n);
	out->len = n;
	*off += sizeof(n) + n;
	return 1;
}

static void
conn_q_clear(struct sio_buf *q)
{
	if (q->cap > 4096)
		sio_buf_cleanup(q);
	else
		sio_buf_reset(q);
}

const char *
wsd_conn_client_addr(struct lws *wsi, const char *fwd, size_t fwd_len,
                     char out[WSD_ADDR_LEN])
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	char peer[WSD_ADDR_LEN];
	int unix_peer;

	/* a UNIX socket's peer is whoever its mode lets in: the web server */
	unix_peer = getsockname(lws_get_socket_fd(wsi), (struct sockaddr *)&sa,
	                        &salen) == 0 &&
	            sa.ss_family == AF_UNIX;
	peer[0] = '\0';
	if (!unix_peer)
		lws_get_peer_simple(wsi, peer, sizeof(peer));
	return sio_config_client_addr(&wsd.cfg, peer, unix_peer, fwd, fwd_len,
	                              out, WSD_ADDR_LEN);
}

int
wsd_conn_bound_elsewhere(struct lws *wsi, const char *sid, const char *fwd,
                         size_t fwd_len)
{
	struct sio_store_session ss;
	struct sio_request req;
	char client[WSD_ADDR_LEN];
	int other = 0;

	if (!wsd.cfg.bind_address)
		return 0;
	wsd_conn_client_addr(wsi, fwd, fwd_len, client);
	if (sio_store_session_get(wsd.x.store, sid, &ss) != SIO_OK)
		return 0;
	if (sio_request_from_json(&req, ss.request) == SIO_OK)
		other = strcmp(sio_request_remote(&req), client) != 0;
	if (other)
		wsd_log(SIO_LOG_INFO,
		        "%s: request from %s, but the session is bound to %s",
		        sid, client[0] ? client : "?",
		        sio_request_remote(&req));
	sio_request_cleanup(&req);
	sio_store_session_cleanup(&ss);
	return other;
}

int
wsd_conn_open(struct wsd_conn *c, struct lws *wsi, const char *sid,
              int transport, const char *addr)
{
	c->addr = conn_addr_ref(addr);
	c->wsi = wsi;
	/* `1::` is recorded once its frame is out (wsd_conn_written()) */
	sio_deliver_init(&c->d, sid, transport, wsd.holder, ++conn_counter,
	                 SIO_DELIVER_HELLO_WRITTEN);
	sio_buf_init(&c->rx);
	sio_buf_init(&c->inq);
	sio_buf_init(&c->txq);
	conn_event(c, CONN_EV_OPEN); /* attached in the next batch */
	conn_link(c);
	conn_dirty(c);
	return SIO_OK;
}

/* The attach of a new connection, in the batch. */
static void
conn_attach(struct wsd_conn *c, long long now)
{
	struct sio_store *st = wsd.x.store;
	int rc;

	rc = sio_deliver_attach(&c->d, st, now);
	if (rc == SIO_ERR) {
		wsd_log_limited(&conn_store_rl, SIO_LOG_ERROR, "%s: attach: %s",
		                c->d.sid, sio_store_errmsg(st));
		conn_event(c, CONN_EV_FAILED); /* nothing to detach */
		conn_want_write(c);
		return;
	}
	if (rc == SIO_CLOSED) {
		wsd_log(SIO_LOG_INFO, "%s: unknown or closed session",
		        c->d.sid);
		conn_event(c, CONN_EV_UNKNOWN);
		conn_want_write(c);
		return;
	}
	conn_event(c, CONN_EV_ATTACHED);
	wsd_log(SIO_LOG_DEBUG, "%s: attached %s conn %lld", c->d.sid,
	        sio_config_transport_name((enum sio_transport)c->d.transport),
	        c->d.conn);
	c->want_take = c->rung = 1; /* `1::` first, when the store says */
}

int
wsd_conn_receive(struct wsd_conn *c, const char *msg, size_t len)
{
	if (!conn_reads(c))
		return SIO_OK;
	if (conn_q_put(&c->inq, msg, len) != SIO_OK) {
		wsd_log(SIO_LOG_ERROR, "%s: out of memory: packet dropped",
		        c->d.sid);
		return SIO_ERR;
	}
	c->nin++;
	conn_dirty(c);
	return SIO_OK;
}

/* --- the batch ---------------------------------------------------------- */

/* The messages c received, through the session engine's run, before the
 * batch's transaction: no store lock is held while the application's
 * handlers run. Most turns bring one or a few: no allocation for them. */
static void
conn_run(struct wsd_conn *c, long long now)
{
	struct sio_slice few[16] = {{0}}, *pkts = few;
	size_t off = 0, n = 0;
	int rc;

	if (c->nin > 16 && (pkts = calloc(c->nin, sizeof(*pkts))) == NULL) {
		wsd_log(SIO_LOG_ERROR, "%s: out of memory: %u packets dropped",
		        c->d.sid, c->nin);
	} else {
		while (n < c->nin && conn_q_get(&c->inq, &off, &pkts[n]))
			n++;
		rc = sio_session_run(&wsd.x, c->d.sid, pkts, n, now, &c->run);
		if (rc != SIO_OK && wsd.x.err[0] != '\0')
			wsd_log(SIO_LOG_INFO, "%s: %s", c->d.sid, wsd.x.err);
		if (rc == SIO_ERR)
			wsd_log_limited(&conn_store_rl, SIO_LOG_ERROR,
			                "%s: receive: %s", c->d.sid,
			                sio_store_errmsg(wsd.x.store));
		else if (rc == SIO_CLOSED)
			wsd_log(SIO_LOG_DEBUG,
			        "%s: packet for an ended session", c->d.sid);
		if (pkts != few)
			free(pkts);
	}
	c->nin = 0;
	conn_q_clear(&c->inq);
}

/* What c's run recorded, in the batch's transaction. */
static void
conn_receive(struct wsd_conn *c)
{
	int rc = sio_session_apply(&wsd.x, c->run);

	if (wsd.x.err[0] != '\0')
		wsd_log(SIO_LOG_INFO, "%s: %s", c->d.sid, wsd.x.err);
	if (rc == SIO_ERR)
		wsd_log_limited(&conn_store_rl, SIO_LOG_ERROR,
		                "%s: receive: %s", c->d.sid,
		                sio_store_errmsg(wsd.x.store));
	else if (rc == SIO_CLOSED)
		wsd_log(SIO_LOG_DEBUG, "%s: packet for an ended session",
		        c->d.sid);
	/* replies went direct, or rang (taken below) */
}

/* After the batch's commit: an end c's run claimed, then the run freed. */
static void
conn_run_done(struct wsd_conn *c, int committed)
{
	if (c->run != NULL &&
	    sio_session_done(&wsd.x, c->run, committed) == SIO_ERR)
		wsd_log_limited(&conn_store_rl, SIO_LOG_ERROR, "%s: end: %s",
		                c->d.sid, sio_store_errmsg(wsd.x.store));
	c->run = NULL;
}

/* Writes, received packets and the detach of a closed connection, in
 * the batch's transaction (or their own when it was lost). */
static void
conn_settle(struct wsd_conn *c, long long now)
{
	struct sio_store *st = wsd.x.store;
	int rc;

	if (c->state == WSD_STATE_ATTACHING)
		conn_attach(c, now);
	/* first: a `1::` that is out stays recorded whatever becomes of
	 * the packets after it */
	if (c->hello_sent) {
		c->hello_sent = 0;
		if (sio_deliver_hello_written(&c->d, st) != SIO_OK)
			wsd_log_limited(&conn_store_rl, SIO_LOG_ERROR,
			                "%s: hello: %s", c->d.sid,
			                sio_store_errmsg(st));
	}
	if (c->ntaken > 0 &&
	    (c->txq_done >= c->txq.len || c->state == WSD_STATE_CLOSED)) {
		/* all written; a closed connection's unwritten ones go back */
		if (c->txq_done >= c->txq.len)
			rc = sio_deliver_written(&c->d, st);
		else
			rc = sio_deliver_release(&c->d, st);
		if (rc != SIO_OK)
			wsd_log_limited(&conn_store_rl, SIO_LOG_ERROR,
			                "%s: outbox: %s", c->d.sid,
			                sio_store_errmsg(st));
		c->ntaken = c->nq = 0;
		c->txq_off = c->txq_done = 0;
		conn_q_clear(&c->txq);
	}
	if (c->run != NULL)
		conn_receive(c);
	if (c->state == WSD_STATE_CLOSED &&
	    sio_deliver_detach(&c->d, st, now) != SIO_OK)
		wsd_log_limited(&conn_store_rl, SIO_LOG_ERROR, "%s: detach: %s",
		                c->d.sid, sio_store_errmsg(st));
}

static int
conn_take_one(void *udata, const char *pkt, size_t len)
{
	struct sio_buf *q = udata;

	/* txq's offsets are 32-bit (struct wsd_conn) */
	if (q->len + sizeof(uint32_t) + len > UINT32_MAX)
		return SIO_FULL;
	return conn_q_put(q, pkt, len);
}

/* Nothing is due now: wake up again when a delayed packet is. */
static void
conn_wait_due(struct wsd_conn *c, long long now)
{
	long long due;

	if (sio_deliver_next_due(&c->d, wsd.x.store, now, &due) == SIO_OK)
		lws_set_timer_usecs(c->wsi,
		                    (due > now ? due - now : 1) * 1000LL);
}

/* What c does after a take of n packets (SIO_ERR: it failed) with its
 * session in state (sio_deliver_holds()); more: more may wait. */
static void
conn_took(struct wsd_conn *c, int n, int state, int more, long long now)
{
	struct sio_store *st = wsd.x.store;

	if (state == SIO_ABSENT && n >= 0) {
		/* Protocol 5.6: a superseded websocket is not closed, or the
		 * 0.9 client would tear down the transport it fell back to. */
		conn_event(c, CONN_EV_SUPERSEDED);
		c->rung = 0;
		return;
	}
	if (n < 0) {
		wsd_log_limited(&conn_store_rl, SIO_LOG_ERROR, "%s: outbox: %s",
		                c->d.sid, sio_store_errmsg(st));
		conn_q_clear(&c->txq);
		c->want_take = 1; /* the next ring or tick tries again */
		return;
	}
	if (c->d.dropped > 0) {
		static struct sio_ratelimit rl;
		wsd_log_limited(
		    &rl, SIO_LOG_WARN,
		    "%s: %d queued packets dropped: not valid UTF-8 "
		    "or empty (queued with SQL?)",
		    c->d.sid, c->d.dropped);
	}
	c->ntaken = c->nq = (unsigned)n;
	if (n == CONN_TAKE_MAX || more)
		c->want_take = 1; /* more may wait: after these are done */
	if (n > 0)
		return; /* rung stays until a take finds nothing */
	if (state == SIO_SESSION_CLOSED && sio_deliver_over(&c->d, st))
		conn_event(c, CONN_EV_ENDED); /* its final packets are out */
	else if (c->rung)
		conn_wait_due(c, now); /* a delayed packet rang, say */
	c->rung = 0;
}

/* Takes what is ready for c into its memory queue, once the previous
 * take is written and done. */
static void
conn_take(struct wsd_conn *c, long long now)
{
	struct sio_store *st = wsd.x.store;
	int n, state;

	if (!c->want_take || c->ntaken > 0 || c->txq_done < c->txq.len ||
	    (c->state != WSD_STATE_LIVE && c->state != WSD_STATE_SUPERSEDED))
		return;
	c->want_take = 0;
	state = sio_deliver_holds(&c->d, st);
	if (state == SIO_ABSENT) {
		conn_took(c, 0, state, 0, now);
		return;
	}
	conn_q_clear(&c->txq);
	c->txq_off = c->txq_done = 0;
	n = state < 0 ? SIO_ERR
	              : sio_deliver_take(&c->d, st, now, CONN_TAKE_MAX,
	                                 conn_take_one, &c->txq);
	conn_took(c, n, state, 0, now);
}

/* Whether all c needs is its outbox (rung, or its packets written; no
 * packet in, no `1::`), and the store can serve that alone. */
static int
conn_light_ok(const struct wsd_conn *c)
{
	return c->state == WSD_STATE_LIVE && c->nin == 0 && c->run == NULL &&
	       !c->hello_sent && c->txq_done >= c->txq.len &&
	       (c->ntaken > 0 || c->want_take) &&
	       sio_deliver_can_done_take(&c->d, wsd.x.store);
}

/* The most connections of a batch served so: a statement each, where the
 * batch's transaction serves any number (a heartbeat round rings every
 * connection at once). */
#define CONN_LIGHT_MAX 8

/*
 * Before the batch, where the store can (PostgreSQL): the done of c's
 * written packets and its next take, in one statement of their own that
 * takes no writers' lock (conn_light_ok()). A connection rung from
 * another process then waits for no other writer's turn, and for one
 * round trip instead of a transaction's three. Anything it cannot do
 * here stays for the batch.
 */
static void
conn_light(struct wsd_conn *c, long long now)
{
	struct sio_store *st = wsd.x.store;
	int take = c->want_take, n, state, more;

	if (!conn_light_ok(c))
		return;
	conn_q_clear(&c->txq); /* all written */
	c->txq_off = c->txq_done = 0;
	n = sio_deliver_done_take(&c->d, st, now, take ? CONN_TAKE_MAX : 0,
	                          conn_take_one, &c->txq, &state, &more);
	c->ntaken = c->nq = 0; /* done, or handed back below */
	if (n == SIO_ERR) {
		/* what it did is unknown: all it may hold goes back (what
		 * was written may then go out twice), the batch takes */
		wsd_log_limited(&conn_store_rl, SIO_LOG_WARN, "%s: outbox: %s",
		                c->d.sid, sio_store_errmsg(st));
		if (sio_deliver_release(&c->d, st) != SIO_OK)
			wsd_log_limited(&conn_store_rl, SIO_LOG_ERROR,
			                "%s: outbox: %s", c->d.sid,
			                sio_store_errmsg(st));
		conn_q_clear(&c->txq);
		c->want_take = 1;
		return;
	}
	if (n == SIO_AGAIN) {
		conn_q_clear(&c->txq); /* the batch takes */
		return;
	}
	if (take) {
		c->want_take = 0;
		conn_took(c, n, state, more, now);
	}
}

/* After the batch: what each connection does next; records are freed. */
static void
conn_after(struct wsd_conn *c, int committed)
{
	c->dirty = 0;
	if (c->state == WSD_STATE_CLOSED) {
		sio_buf_cleanup(&c->inq);
		sio_buf_cleanup(&c->txq);
		free(c);
		return;
	}
	if (!committed) {
		/* What the batch took or marked done may be half there: hand
		 * it all back (delivery is at least once) and look again. */
		if (c->ntaken > 0 || c->txq.len > 0) {
			c->d.taken = 1; /* a done may be undone too */
			sio_deliver_release(&c->d, wsd.x.store);
		}
		c->ntaken = c->nq = 0;
		c->txq_off = c->txq_done = 0;
		conn_q_clear(&c->txq);
		conn_want_take(c, 1);
		return;
	}
	if (c->txq_off < c->txq.len || c->state == WSD_STATE_ENDED)
		conn_want_write(c);
}

/* Marks the conns of sids whose bells the batch took (see below). */
static void
conn_ring_local(void *udata, const char *sid)
{
	(void)udata;
	wsd_conn_ring(sid);
}

/* The most connections one batch takes: its transaction holds the
 * writers' lock while it runs and takes, so a burst (thousands of
 * connections opening at once) goes in several, and other writers, this
 * process's lease among them, get their turn in between. */
#define CONN_BATCH_MAX 256

/* Reads ahead, in one round trip where the store makes them, what the
 * batch will read of its sessions: of those with packets in for the runs
 * (in), of every one for the applies, detaches and takes. */
static void
conn_prelude(struct wsd_conn *list, int in)
{
	const char *sids[CONN_BATCH_MAX];
	struct wsd_conn *c;
	int n = 0;

	for (c = list; c != NULL && n < CONN_BATCH_MAX; c = c->dnext)
		if (!in || c->nin > 0)
			sids[n++] = c->d.sid;
	if (sio_store_prelude(wsd.x.store, sids, n, in) != SIO_OK)
		wsd_log_limited(&conn_store_rl, SIO_LOG_WARN, "batch: %s",
		                sio_store_errmsg(wsd.x.store));
}

/*
 * The ends the batch's runs claimed (committed: whether the batch did):
 * on_close of each, outside any transaction, then what they did, all in
 * one transaction (each in a savepoint), in place of one of its own each.
 */
static void
conn_ends(struct wsd_conn *list, int committed)
{
	struct sio_store *st = wsd.x.store;
	struct wsd_conn *ends[CONN_BATCH_MAX];
	const char *sids[CONN_BATCH_MAX];
	int n = 0;

	for (struct wsd_conn *c = list; c != NULL && n < CONN_BATCH_MAX;
	     c = c->dnext)
		if (sio_session_close_run(&wsd.x, c->run, committed) == 1) {
			ends[n] = c;
			sids[n++] = c->d.sid;
		}
	if (n < 2 || sio_store_begin(st) != SIO_OK)
		return; /* each on its own (conn_run_done()) */
	if (sio_store_prelude(st, sids, n, 0) != SIO_OK)
		wsd_log_limited(&conn_store_rl, SIO_LOG_WARN, "ends: %s",
		                sio_store_errmsg(st));
	for (int i = 0; i < n; i++)
		conn_run_done(ends[i], committed);
	if (sio_store_commit(st) != SIO_OK)
		wsd_log_limited(&conn_store_rl, SIO_LOG_ERROR, "ends: %s",
		                sio_store_errmsg(st));
}

void
wsd_conn_flush(void)
{
	struct sio_store *st = wsd.x.store;
	long long now = sio_session_now();
	struct wsd_conn *list, *tail, *rest_tail, *fresh, *c, *n;
	int tx, committed = 1, k;

	if (dirty_head == NULL)
		return;
	flush_scheduled = 1; /* rings while it runs join it, see below */
	/* The first CONN_BATCH_MAX are ours; their members stay marked
	 * dirty until the end, so that a ring only sets their flags. The
	 * rest stays on the dirty list, up to rest_tail, for the next. */
	list = tail = dirty_head;
	for (k = 1; k < CONN_BATCH_MAX && tail->dnext != NULL; k++)
		tail = tail->dnext;
	rest_tail = tail->dnext != NULL ? dirty_tail : NULL;
	dirty_head = tail->dnext;
	if (dirty_head != NULL)
		dirty_head->dprev = NULL;
	else
		dirty_tail = NULL;
	tail->dnext = NULL;
	for (c = list, k = 0; c != NULL && k <= CONN_LIGHT_MAX; c = c->dnext)
		k += conn_light_ok(c);
	if (k > 0 && k <= CONN_LIGHT_MAX)
		for (c = list; c != NULL; c = c->dnext)
			conn_light(c, now);
	/* the handlers run before the write lock is taken, their reads in
	 * one snapshot */
	tx = sio_store_read_begin(st) == SIO_OK;
	if (tx)
		conn_prelude(list, 1);
	for (c = list; c != NULL; c = c->dnext)
		if (c->nin > 0)
			conn_run(c, now);
	/* the write transaction: the snapshot itself when nobody wrote
	 * since (one lock fewer), else a new one */
	tx = (tx ? sio_store_read_upgrade(st) : sio_store_begin(st)) == SIO_OK;
	if (!tx)
		wsd_log_limited(&conn_store_rl, SIO_LOG_WARN,
		                "batch: %s (each on its own)",
		                sio_store_errmsg(st));
	else
		conn_prelude(list, 0);
	for (c = list; c != NULL; c = c->dnext)
		conn_settle(c, now);
	/* Packets this batch queued for connections of this process are
	 * taken below: no datagram to ourselves. */
	if (tx && sio_store_in_transaction(st))
		sio_store_bells_take(st, wsd.holder, conn_ring_local, NULL);
	/* rung just now, and not waiting in the rest: join the list */
	fresh = rest_tail != NULL ? rest_tail->dnext : dirty_head;
	if (fresh != NULL) {
		tail->dnext = fresh;
		fresh->dprev = tail;
		if (rest_tail != NULL) {
			rest_tail->dnext = NULL;
			dirty_tail = rest_tail;
		} else {
			dirty_head = dirty_tail = NULL;
		}
	}
	for (c = list; c != NULL; c = c->dnext)
		if (c->state != WSD_STATE_CLOSED)
			conn_take(c, now);
	if (tx && sio_store_in_transaction(st) &&
	    sio_store_commit(st) != SIO_OK) {
		wsd_log_limited(&conn_store_rl, SIO_LOG_ERROR,
		                "batch commit: %s", sio_store_errmsg(st));
		committed = 0;
	}
	conn_ends(list, committed || !tx);
	for (c = list; c != NULL; c = n) {
		n = c->dnext;
		conn_run_done(c, committed || !tx);
		conn_after(c, committed);
	}
	flush_scheduled = 0;
	if (dirty_head != NULL)
		conn_dirty(dirty_head); /* schedules the next flush */
}

/* The connections on the dirty list. */
static size_t
conn_ndirty(void)
{
	size_t n = 0;

	for (struct wsd_conn *c = dirty_head; c != NULL; c = c->dnext)
		n++;
	return n;
}

void
wsd_conn_flush_all(void)
{
	size_t n = conn_ndirty(), left;

	/* while each batch settles some: a store that fails them all
	 * leaves them */
	while (n > 0) {
		wsd_conn_flush();
		if ((left = conn_ndirty()) >= n)
			break;
		n = left;
	}
}

static void
conn_flush_cb(lws_sorted_usec_list_t *sul)
{
	lws_usec_t t0 = lws_now_usecs();

	(void)sul;
	flush_scheduled = flush_late = 0;
	wsd_conn_flush();
	wsd_sul_done(t0);
}

/* The direct path (sio_store_set_direct): a live connection that writes
 * takes packets straight into its queue, where nothing it took from the
 * store waits (the store saw an empty outbox, so nothing does). */
static struct wsd_conn *
conn_find(const char *sid, long long conn)
{
	struct wsd_conn *c;

	for (c = conn_table[conn_hash(sid)]; c != NULL; c = c->next)
		if (c->d.conn == conn && strcmp(c->d.sid, sid) == 0)
			return c;
	return NULL;
}

static int
conn_direct_accept(void *udata, const char *sid, long long conn,
                   unsigned staged)
{
	struct wsd_conn *c = conn_find(sid, conn);

	(void)udata;
	/* at most CONN_TAKE_MAX unwritten: a client that does not read
	 * leaves the rest in the store, under max_queue */
	return c != NULL && c->state == WSD_STATE_LIVE && c->ntaken == 0 &&
	       c->nq + staged < CONN_TAKE_MAX && !c->killed && !c->peer_close &&
	       !c->local_close && !c->proto_error;
}

static void
conn_direct_deliver(void *udata, const char *sid, long long conn,
                    const char *pkt, size_t len)
{
	struct wsd_conn *c = conn_find(sid, conn);

	(void)udata;
	if (c == NULL || conn_q_put(&c->txq, pkt, len) != SIO_OK) {
		wsd_log(SIO_LOG_ERROR, "%s: packet lost (%s)", sid,
		        c == NULL ? "connection gone" : "out of memory");
		return;
	}
	c->nq++;
	conn_want_write(c);
}

void
wsd_conn_init(struct lws_context *lws)
{
	conn_lws = lws;
	if (lws != NULL) {
		sio_store_set_direct(wsd.x.store, wsd.holder,
		                     conn_direct_accept, conn_direct_deliver,
		                     NULL);
		sio_store_defer_counters(wsd.x.store);
	}
	if (lws == NULL && flush_scheduled) {
		flush_scheduled = flush_late = 0;
		lws_sul_cancel(&flush_sul);
	}
}

/* --- writing -------------------------------------------------------------- */

/* The packet being written, after the transport's headroom: filled and
 * written in one writeable callback, so one buffer serves every
 * connection. */
static struct sio_buf conn_tx;

/* Puts pkt after the headroom in conn_tx; *out is the whole of it. */
static enum wsd_conn_step
conn_put(size_t headroom, const char *pkt, size_t len, struct sio_slice *out)
{
	sio_buf_reset(&conn_tx);
	while (conn_tx.len < headroom)
		if (sio_buf_putc(&conn_tx, 0) != SIO_OK)
			return WSD_CONN_CLOSE;
	if (sio_buf_append(&conn_tx, pkt, len) != SIO_OK)
		return WSD_CONN_CLOSE;
	out->p = conn_tx.p;
	out->len = conn_tx.len;
	return WSD_CONN_WRITE;
}

enum wsd_conn_step
wsd_conn_next(struct wsd_conn *c, size_t headroom, struct sio_slice *out)
{
	struct sio_slice pkt;
	size_t off = c->txq_off;

	c->want_since = 0; /* the writeable callback came */
	switch (c->state) {
	case WSD_STATE_NEW: /* the transport does not call it then */
	case WSD_STATE_CLOSING:
	case WSD_STATE_DROPPING:
	case WSD_STATE_CLOSED:
		return WSD_CONN_CLOSE;
	case WSD_STATE_ATTACHING:
	case WSD_STATE_LIVE:
	case WSD_STATE_SUPERSEDED:
	case WSD_STATE_ENDED:
	case WSD_STATE_GONE:
		break;
	}
	if (conn_q_get(&c->txq, &off, &pkt)) {
		/* a take that passed `1::` passed it first */
		c->hello_out = c->txq_off == 0 && c->d.hello_taken;
		c->txq_off = (uint32_t)off;
		c->nq--;
		return conn_put(headroom, pkt.p, pkt.len, out);
	}
	if (c->state == WSD_STATE_GONE) {
		/* protocol 1.5: one frame, then close */
		conn_event(c, CONN_EV_LAST);
		return conn_put(headroom, "7:::1+0", 7, out);
	}
	if (c->state == WSD_STATE_ENDED) {
		wsd_log(SIO_LOG_DEBUG, "%s: session ended", c->d.sid);
		conn_event(c, CONN_EV_LAST);
		return WSD_CONN_CLOSE;
	}
	if (c->state != WSD_STATE_SUPERSEDED && c->ntaken == 0)
		conn_want_take(c, 1); /* a delayed packet's timer, say */
	return WSD_CONN_IDLE;
}

void
wsd_conn_written(struct wsd_conn *c, int ok)
{
	if (ok)
		c->txq_done = c->txq_off;
	if (c->hello_out && ok) {
		/* recorded with the next batch, CONN_LATE_US at the latest:
		 * a transport of the same client that attached within that
		 * time would send `1::` again (a 0.9 client that has its
		 * `1::` on a websocket polls only once it has closed it,
		 * and the close records it at once) */
		c->hello_sent = 1;
		conn_dirty_late(c);
	}
	c->hello_out = 0;
	/* Large packets leave a big buffer behind; do not keep it. */
	if (conn_tx.cap > 65536)
		sio_buf_cleanup(&conn_tx);
	if (!ok)
		return; /* the socket closes: wsd_conn_close releases */
	if (c->txq_done < c->txq.len || conn_closes(c))
		conn_want_write(c); /* the next packet, or the close */
	else if (c->ntaken > 0 && c->want_take)
		conn_want_take(c, 0); /* done, and the next ones */
	else if (c->ntaken > 0) {     /* done; a take then finds what came */
		c->want_take = 1;
		conn_dirty_late(c);
	}
}

void
wsd_conn_close(struct wsd_conn *c, const char *reason)
{
	struct wsd_conn *r;
	int attached;

	if (c->state == WSD_STATE_NEW || c->state == WSD_STATE_CLOSED)
		return; /* never opened (rejected before ESTABLISHED), or
		         * closed already */
	wsd_log(SIO_LOG_DEBUG, "%s: conn %lld closed: %s", c->d.sid, c->d.conn,
	        reason);
	conn_unlink(c);
	wsd_conn_buffer_hold(c, 0);
	conn_addr_unref(c->addr);
	c->addr = NULL;
	sio_buf_cleanup(&c->rx);
	attached = conn_attached(c->state);
	conn_event(c, CONN_EV_CLOSED);
	/* The record the batch settles: packets in, done or release, then
	 * the detach. One that never attached has nothing to settle (what
	 * it read before its attach is dropped). */
	r = attached ? malloc(sizeof(*r)) : NULL;
	if (r != NULL) {
		*r = *c;
		r->wsi = NULL;
		if (c->dirty)
			conn_dirty_replace(c, r);
		conn_dirty(r); /* at once, if c's flush was a late one */
	} else {               /* settled now, in transactions of their own */
		if (c->dirty)
			conn_dirty_remove(c);
		c->wsi = NULL;
		if (attached)
			conn_settle(c, sio_session_now());
		sio_buf_cleanup(&c->inq);
		sio_buf_cleanup(&c->txq);
	}
	memset(&c->inq, 0, sizeof(c->inq));
	memset(&c->txq, 0, sizeof(c->txq));
	c->dirty = 0;
	c->d.conn = 0;
}

void
wsd_conn_ring(const char *sid)
{
	struct wsd_conn *c;

	for (c = conn_table[conn_hash(sid)]; c != NULL; c = c->next)
		if (strcmp(c->d.sid, sid) == 0)
			conn_want_take(c, 1);
}

static void
conn_ring_ready(void *udata, const char *sid)
{
	(void)udata;
	wsd_conn_ring(sid);
}

void
wsd_conn_ring_ready(int all)
{
	struct sio_store *st = wsd.x.store;
	int rc = all ? sio_store_outbox_ready(st, wsd.holder, sio_session_now(),
	                                      conn_ring_ready, NULL)
	             : sio_store_watch(st, wsd.holder, sio_session_now(),
	                               conn_ring_ready, NULL);

	if (rc < 0)
		wsd_log_limited(&conn_store_rl, SIO_LOG_WARN, "ready: %s",
		                sio_store_errmsg(st));
}

void
wsd_conn_close_all(void)
{
	for (unsigned h = 0; h < CONN_BUCKETS; h++)
		for (struct wsd_conn *c = conn_table[h]; c != NULL;
		     c = c->next) {
			c->going_away = 1;
			conn_event(c, CONN_EV_STOP);
			lws_callback_on_writable(c->wsi);
		}
}

/* An idle connection keeps no buffers (most connections are idle). */
static void
conn_trim(struct wsd_conn *c)
{
	if (c->nin == 0 && !c->dirty)
		sio_buf_cleanup(&c->inq);
	if (c->ntaken == 0 && c->txq_off >= c->txq.len && !c->dirty) {
		sio_buf_cleanup(&c->txq);
		c->txq_off = c->txq_done = 0;
	}
	if (c->rx.len == 0)
		sio_buf_cleanup(&c->rx);
}

void
wsd_conn_check_stalled(void)
{
	long long now = sio_session_mono(), stuck;
	long long limit = 2000LL * wsd.cfg.heartbeat_timeout;
	const char *why;

	if (limit < 10000)
		limit = 10000;
	for (unsigned h = 0; h < CONN_BUCKETS; h++)
		for (struct wsd_conn *c = conn_table[h]; c != NULL;
		     c = c->next) {
			conn_trim(c);
			if (c->want_since == 0 || c->killed || c->going_away)
				continue;
			stuck = now - c->want_since;
			if (stuck < 1000)
				continue;
			if (stuck >= limit)
				why = "no write possible";
			else if (conn_closes(c) ||
			         sio_deliver_over(&c->d, wsd.x.store))
				why = "session ended while no write possible";
			else
				continue;
			wsd_log(SIO_LOG_INFO,
			        "%s: conn %lld: %s for %lld s (the client does "
			        "not read): socket dropped",
			        c->d.sid, c->d.conn, why, stuck / 1000);
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

/* --- unfinished messages: max_buffered ----------------------------------- */

/* What a connection holds of an unfinished message up to WSD_BUFFER_FREE
 * is not counted: lws reads that much at a time anyway, and the small
 * messages of everyone then pass whoever holds the rest. */
static size_t conn_buffered;

int
wsd_conn_buffer_hold(struct wsd_conn *c, size_t n)
{
	struct wsd_conn_addr *a = c->addr;
	size_t want = n > WSD_BUFFER_FREE ? n - WSD_BUFFER_FREE : 0, more;

	if (want <= c->counted) {
		conn_buffered -= c->counted - want;
		if (a != NULL)
			a->held -= c->counted - want;
		c->counted = want;
		return SIO_OK;
	}
	more = want - c->counted;
	if (more > wsd.cfg.max_buffered - conn_buffered)
		return SIO_ERR;
	if (a != NULL && more > sio_config_buffered_share(&wsd.cfg) - a->held)
		return SIO_FULL;
	conn_buffered += more;
	if (a != NULL)
		a->held += more;
	c->counted = want;
	return SIO_OK;
}

size_t
wsd_conn_buffered(void)
{
	return conn_buffered;
}

const char *
wsd_conn_address(const struct wsd_conn *c)
{
	return c->addr != NULL ? c->addr->addr : "";
}
