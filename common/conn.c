/*
 * conn.c: the application API of siogate.h, what a callback may do with
 * its struct sio_conn. Everything becomes rows in the store inside the
 * transaction the callback runs in: packets in outboxes, data, rooms and
 * pending acks.
 */
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
sio_conn_init(struct sio_conn *c, struct sio_session_ctx *x, const char *sid,
              const char *endpoint, const struct sio_app *app, long long now)
{
	memset(c, 0, sizeof(*c));
	c->ctx = x;
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

int
sio_conn_queue(struct sio_conn *c, int type, long long id, int data_ack,
               const char *data, size_t len, int flags)
{
	struct sio_store *st = c->ctx->store;
	struct sio_buf b;
	int rc;

	sio_buf_init(&b);
	rc = conn_encode(c, &b, type, id, data_ack, data, len);
	if (rc == SIO_OK) {
		rc = sio_store_outbox_put(st, c->sid, b.p, b.len, flags,
		                          conn_due(c));
		if (rc == SIO_AGAIN) { /* the session is gone */
			rc = SIO_ERR;
		} else if (rc == SIO_STORE_FULL) {
			snprintf(c->ctx->err, sizeof(c->ctx->err),
			         "queue full, packet dropped");
			rc = SIO_AGAIN;
		}
	}
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

/* The event that asked for ack id was not queued (a full queue returns
 * SIO_AGAIN and the callback's transaction goes on): no ack can come for
 * it, so its pending row must not stay until the session ends. */
static void
conn_ack_forget(struct sio_conn *c, long long id)
{
	char *handler = NULL, *event = NULL;

	sio_store_ack_take(c->ctx->store, c->sid, c->endpoint, id, &handler,
	                   &event);
	free(handler);
	free(event);
}

static int
conn_emit(struct sio_conn *c, const char *handler, const char *name,
          json_t *args, int flags)
{
	struct sio_buf b;
	long long id = -1;
	int rc;

	sio_buf_init(&b);
	rc = sio_json_event_encode(&b, name, args);
	if (rc == SIO_OK && handler != NULL) {
		id = sio_store_ack_new(c->ctx->store, c->sid, c->endpoint,
		                       handler, b.p);
		if (id < 0)
			rc = SIO_ERR;
	}
	if (rc == SIO_OK)
		rc = sio_conn_queue(c, SIO_PKT_EVENT, id, handler != NULL, b.p,
		                    b.len, flags);
	if (rc != SIO_OK && id > 0)
		conn_ack_forget(c, id);
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
	return sio_store_data_get(c->ctx->store, c->sid, key);
}

int
sio_data_set(struct sio_conn *c, const char *key, const char *value)
{
	return sio_store_data_put(c->ctx->store, c->sid, key, value);
}

int
sio_join(struct sio_conn *c, const char *room)
{
	if (room == NULL)
		return SIO_ERR;
	return sio_store_room_join(c->ctx->store, c->sid, c->endpoint, room);
}

int
sio_leave(struct sio_conn *c, const char *room)
{
	if (room == NULL)
		return SIO_ERR;
	return sio_store_room_leave(c->ctx->store, c->sid, c->endpoint, room);
}

static int
conn_broadcast(struct sio_conn *c, const char *room, int exclude_self, int type,
               const char *data, size_t len)
{
	struct sio_store *st = c->ctx->store;
	struct sio_buf b;
	int rc;

	sio_buf_init(&b);
	rc = conn_encode(c, &b, type, -1, 0, data, len);
	if (rc == SIO_OK) {
		rc = sio_store_outbox_broadcast(st, c->endpoint, room,
		                                exclude_self ? c->sid : NULL,
		                                b.p, b.len, 0, conn_due(c));
	}
	sio_buf_cleanup(&b);
	return rc < 0 ? SIO_ERR : SIO_OK;
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
	vals[4] = st.sessions_opened;
	vals[5] = st.connections_opened;
	vals[6] = st.packets_sent;
	vals[7] = st.packets_received;
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
