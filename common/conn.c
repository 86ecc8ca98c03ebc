/*
 * conn.c: the application API of siogate.h, what a callback may do with
 * its struct sio_conn. A callback runs with no store lock held: reads go
 * to the store as it is (data reads see this run's own writes first), and
 * every write (packets, data, rooms, pending acks) is recorded in the
 * run's effects (effects.h), which the session engine applies after the
 * callback returns.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "json.h"
#include "packet.h"
#include "payload.h"
#include "store.h"

void
sio_conn_init(struct sio_conn *c, struct sio_session_ctx *x,
              struct sio_effects *fx, const char *sid, const char *endpoint,
              const struct sio_app *app, long long now)
{
	memset(c, 0, sizeof(*c));
	c->ctx = x;
	c->fx = fx;
	c->sid = sid;
	c->endpoint = endpoint;
	c->app = app;
	c->now = now;
}

void
sio_conn_cleanup(struct sio_conn *c)
{
	if (c->req_loaded)
		sio_request_cleanup(&c->req);
	c->req_loaded = 0;
}

const char *
sio_conn_sid(const struct sio_conn *c)
{
	return c->sid;
}

const char *
sio_conn_endpoint(const struct sio_conn *c)
{
	return c->endpoint;
}

int
sio_ack_requested(const struct sio_conn *c)
{
	return c->ack_requested;
}

long long
sio_conn_ack_defer(struct sio_conn *c)
{
	if (!c->ack_requested)
		return -1;
	c->ack_deferred = 1;
	return c->ack_id;
}

void
sio_conn_connect_defer(struct sio_conn *c)
{
	c->connect_deferred = 1;
}

const char *
sio_conn_close_reason(const struct sio_conn *c)
{
	return c->close_reason;
}

int
sio_conn_bridge_put(struct sio_conn *c, const char *body, size_t len)
{
	struct sio_effect *e =
	    sio_effects_add(c->fx, SIO_FX_BRIDGE, c->endpoint, body, len, NULL);
	const struct sio_config *cfg = c->ctx->cfg;

	if (e == NULL)
		return SIO_ERR;
	e->id = cfg != NULL ? cfg->bridge_max_queue : SIO_MAX_QUEUE;
	return SIO_OK;
}

const struct sio_request *
sio_conn_request(struct sio_conn *c)
{
	struct sio_store_session s;

	if (c->open_req)
		return c->open_req;
	if (!c->req_loaded) {
		if (sio_store_session_get(c->ctx->store, c->sid, &s) ==
		    SIO_OK) {
			sio_request_from_json(&c->req, s.request);
			sio_store_session_cleanup(&s);
		} else {
			sio_request_init(&c->req, NULL, NULL, NULL);
		}
		c->req_loaded = 1;
	}
	return &c->req;
}

/* Encodes the packet for c's endpoint into b. SIO_ERR, with the reason in
 * the context's err, when it is not valid UTF-8: every transport carries
 * packets as text, and a packet the client cannot read would block the
 * session's queue behind it (a websocket must close on such a frame). */
static int
conn_encode(struct sio_conn *c, struct sio_buf *b, int type, long long id,
            int data_ack, const char *data, size_t len)
{
	struct sio_packet p;

	sio_packet_init(&p, type);
	p.id = id;
	p.data_ack = data_ack;
	p.endpoint = c->endpoint;
	p.endpoint_len = strlen(c->endpoint);
	p.data = data;
	p.data_len = len;
	if (sio_packet_encode(b, &p) != SIO_OK)
		return SIO_ERR;
	if (sio_payload_utf16_len(b->p, b->len) < 0) {
		snprintf(c->ctx->err, sizeof(c->ctx->err),
		         "packet not sent: not valid UTF-8");
		return SIO_ERR;
	}
	return SIO_OK;
}

static long long
conn_due(const struct sio_conn *c)
{
	return c->delay_ms > 0 ? c->now + c->delay_ms : 0;
}

/* conn_room()'s result besides siogate.h's codes */
enum conn_result {
	CONN_DROPPED = 100, /* volatile, no transport: dropped, not an error */
};

/*
 * Whether one more packet for c's session is recorded: SIO_OK (room taken
 * from what the run read of the queue), CONN_DROPPED for a volatile one
 * with no transport attached (as socket.io 0.9 does), SIO_FULL when the
 * queue is full (noted), SIO_ERR when the session is gone. A handler's
 * start reads the queue once; a queue that fills before the apply is
 * caught there (the packet dropped and logged).
 */
static int
conn_room(struct sio_conn *c, int flags)
{
	struct sio_effects *fx = c->fx;
	int rc;

	if (fx->room < 0 && c->opening) { /* a new session: empty */
		fx->room = INT_MAX;
		fx->attached = 0;
	} else if (fx->room < 0) {
		rc = sio_store_outbox_room(c->ctx->store, c->sid, &fx->room,
		                           &fx->attached, NULL);
		if (rc != SIO_OK) {
			fx->room = -1;
			return SIO_ERR;
		}
	}
	if ((flags & SIO_STORE_VOLATILE) && !fx->attached)
		return CONN_DROPPED;
	if (fx->room <= 0) {
		snprintf(c->ctx->err, sizeof(c->ctx->err),
		         "queue full, packet dropped");
		return SIO_FULL;
	}
	fx->room--;
	return SIO_OK;
}

/* Records packet b for c's session. */
static int
conn_put(struct sio_conn *c, enum sio_effect_kind kind, const char *a,
         size_t alen, const char *b, int flags)
{
	struct sio_effect *e;
	int rc = conn_room(c, flags);

	if (rc != SIO_OK)
		return rc == CONN_DROPPED ? SIO_OK : rc;
	e = sio_effects_add(c->fx, kind, c->endpoint, a, alen, b);
	if (e == NULL) {
		c->fx->room++;
		return SIO_ERR;
	}
	e->flags = flags;
	e->due = conn_due(c);
	return SIO_OK;
}

int
sio_conn_queue(struct sio_conn *c, int type, long long id, int data_ack,
               const char *data, size_t len, int flags)
{
	struct sio_buf b;
	int rc;

	sio_buf_init(&b);
	rc = conn_encode(c, &b, type, id, data_ack, data, len);
	if (rc == SIO_OK)
		rc = conn_put(c, SIO_FX_PUT, b.p, b.len, NULL, flags);
	sio_buf_cleanup(&b);
	return rc;
}

int
sio_send(struct sio_conn *c, const char *msg, size_t len)
{
	return sio_conn_queue(c, SIO_PKT_MESSAGE, -1, 0, msg, len, 0);
}

int
sio_send_json(struct sio_conn *c, json_t *value)
{
	struct sio_buf b;
	int rc;

	sio_buf_init(&b);
	rc = sio_json_encode(&b, value);
	if (rc == SIO_OK)
		rc = sio_conn_queue(c, SIO_PKT_JSON, -1, 0, b.p, b.len, 0);
	sio_buf_cleanup(&b);
	return rc;
}

/* An event; one that awaits an ack gets its id when applied, so the
 * packet is checked here with a stand-in id and recorded unformatted. */
static int
conn_emit(struct sio_conn *c, const char *handler, const char *name,
          json_t *args, int flags)
{
	struct sio_buf b, pkt;
	int rc;

	sio_buf_init(&b);
	sio_buf_init(&pkt);
	rc = sio_json_event_encode(&b, name, args);
	if (rc == SIO_OK && handler == NULL)
		rc = sio_conn_queue(c, SIO_PKT_EVENT, -1, 0, b.p, b.len, flags);
	else if (rc == SIO_OK && (rc = conn_encode(c, &pkt, SIO_PKT_EVENT, 1, 1,
	                                           b.p, b.len)) == SIO_OK)
		rc = conn_put(c, SIO_FX_EMIT_ACK, handler, strlen(handler), b.p,
		              flags);
	sio_buf_cleanup(&pkt);
	sio_buf_cleanup(&b);
	return rc;
}

int
sio_emit(struct sio_conn *c, const char *name, json_t *args)
{
	return conn_emit(c, NULL, name, args, 0);
}

int
sio_emit_volatile(struct sio_conn *c, const char *name, json_t *args)
{
	return conn_emit(c, NULL, name, args, SIO_STORE_VOLATILE);
}

int
sio_emit_ack(struct sio_conn *c, const char *handler, const char *name,
             json_t *args)
{
	if (handler == NULL)
		return SIO_ERR;
	return conn_emit(c, handler, name, args, 0);
}

int
sio_delay(struct sio_conn *c, long ms)
{
	if (ms < 0)
		return SIO_ERR;
	c->delay_ms = ms;
	return SIO_OK;
}

int
sio_close(struct sio_conn *c)
{
	c->close_requested = 1;
	return SIO_OK;
}

char *
sio_data_get(struct sio_conn *c, const char *key)
{
	const char *v;

	if (key == NULL)
		return NULL;
	if (sio_effects_data(c->fx, key, &v)) /* this run's own write */
		return v ? strdup(v) : NULL;
	if (c->opening) /* no row yet */
		return NULL;
	return sio_store_data_get(c->ctx->store, c->sid, key);
}

int
sio_data_set(struct sio_conn *c, const char *key, const char *value)
{
	if (key == NULL)
		return SIO_ERR;
	return sio_effects_add(c->fx, SIO_FX_DATA, NULL, key, strlen(key),
	                       value)
	           ? SIO_OK
	           : SIO_ERR;
}

static int
conn_room_effect(struct sio_conn *c, enum sio_effect_kind kind,
                 const char *room)
{
	if (room == NULL)
		return SIO_ERR;
	return sio_effects_add(c->fx, kind, c->endpoint, room, strlen(room),
	                       NULL)
	           ? SIO_OK
	           : SIO_ERR;
}

int
sio_join(struct sio_conn *c, const char *room)
{
	return conn_room_effect(c, SIO_FX_JOIN, room);
}

int
sio_leave(struct sio_conn *c, const char *room)
{
	return conn_room_effect(c, SIO_FX_LEAVE, room);
}

static int
conn_broadcast(struct sio_conn *c, const char *room, int exclude_self, int type,
               const char *data, size_t len)
{
	struct sio_effect *e = NULL;
	struct sio_buf b;
	int rc;

	sio_buf_init(&b);
	rc = conn_encode(c, &b, type, -1, 0, data, len);
	if (rc == SIO_OK &&
	    (e = sio_effects_add(c->fx, SIO_FX_BROADCAST, c->endpoint, b.p,
	                         b.len, room)) != NULL) {
		e->flags = exclude_self ? SIO_FX_EXCLUDE_SELF : 0;
		e->due = conn_due(c);
	}
	sio_buf_cleanup(&b);
	return e != NULL ? SIO_OK : SIO_ERR;
}

int
sio_broadcast_send(struct sio_conn *c, const char *room, int exclude_self,
                   const char *msg, size_t len)
{
	return conn_broadcast(c, room, exclude_self, SIO_PKT_MESSAGE, msg, len);
}

int
sio_broadcast_emit(struct sio_conn *c, const char *room, int exclude_self,
                   const char *name, json_t *args)
{
	struct sio_buf b;
	int rc;

	sio_buf_init(&b);
	rc = sio_json_event_encode(&b, name, args);
	if (rc == SIO_OK)
		rc = conn_broadcast(c, room, exclude_self, SIO_PKT_EVENT, b.p,
		                    b.len);
	sio_buf_cleanup(&b);
	return rc;
}

int
sio_stats(struct sio_conn *c, json_t *out)
{
	struct sio_store_stats st;
	static const char *const names[] = {
	    "active_sessions",    "peak_sessions",
	    "active_connections", "peak_connections",
	    "sessions_opened",    "connections_opened",
	    "packets_sent",       "packets_received",
	    "queued_packets",     "time"};
	long long vals[sizeof(names) / sizeof(names[0])];
	const char *const rnames[] = {"connections_ps", "packets_sent_ps",
	                              "packets_received_ps"};
	double rates[3];

	if (!json_is_object(out) ||
	    sio_store_stats(c->ctx->store, &st) != SIO_OK)
		return SIO_ERR;
	vals[0] = st.active_sessions;
	vals[1] = st.peak_sessions;
	vals[2] = st.active_connections;
	vals[3] = st.peak_connections;
	/* in the root on_open this session counts, though not stored yet */
	vals[4] = st.sessions_opened + (c->opening ? 1 : 0);
	vals[5] = st.connections_opened;
	vals[6] = st.packets_sent;
	vals[7] = st.packets_received + c->fx->received; /* this run's too */
	vals[8] = st.queued_packets;
	vals[9] = c->now;
	rates[0] = st.connections_ps;
	rates[1] = st.packets_sent_ps;
	rates[2] = st.packets_received_ps;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (json_object_set_new(out, names[i], json_integer(vals[i])) !=
		    0)
			return SIO_ERR;
	for (size_t i = 0; i < 3; i++)
		if (json_object_set_new(out, rnames[i], json_real(rates[i])) !=
		    0)
			return SIO_ERR;
	return SIO_OK;
}
