/*
 * session.c: the protocol rules that hold whatever the transport (see
 * session.h). Every entry point runs in one store transaction, so what a
 * callback queues is committed together with the state change that caused
 * it, and two processes handling the same session serialise on the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "conn.h"
#include "json.h"
#include "packet.h"
#include "plugin.h"
#include "session.h"

/* dispatch results besides SIO_OK / SIO_ERR: the session has ended */
#define SESSION_ENDED 1

long long
sio_session_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
sio_session_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The boot clock this process reads: the kernel's id of this boot and its
 * time namespace ("<boot id>/<ns dev>:<ns inode>"), since a time namespace
 * offsets CLOCK_BOOTTIME (a container's `unshare --time --boottime`).
 * Boot id "" when it cannot be read: then only a boot clock that went
 * back tells a new boot.
 */
static void
session_clock_space(char *buf, size_t size)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	struct stat sb;
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	if (stat("/proc/self/ns/time", &sb) == 0)
		snprintf(buf + n, size - n, "/%llu:%llu",
		         (unsigned long long)sb.st_dev,
		         (unsigned long long)sb.st_ino);
}

/* The sweeper's first task: moves the stored times by a step of the wall
 * clock since the last sweep (sio_store_clock_check). */
static int
session_clock(struct sio_session_ctx *x, long long now)
{
	char boot[96];
	long long step;

	session_clock_space(boot, sizeof(boot));
	return sio_store_clock_check(x->store, boot, now,
	                             x->mono ? x->mono() : sio_session_mono(),
	                             &step);
}

static void
session_note(struct sio_session_ctx *x, const char *fmt, const char *what,
             size_t len)
{
	snprintf(x->err, sizeof(x->err), fmt, (int)(len > 64 ? 64 : len), what);
}

/* Queues a bare packet (`1::/ep`, `0::/ep`, `7::/ep:2`, acks) for sid. */
static int
session_queue(struct sio_session_ctx *x, const char *sid, const char *ep,
              int type, long long id, const char *data, size_t len,
              long long now)
{
	struct sio_conn c;
	int rc;

	sio_conn_init(&c, x, sid, ep, NULL, now);
	rc = sio_conn_queue(&c, type, id, 0, data, len, 0);
	sio_conn_cleanup(&c);
	return rc == SIO_AGAIN ? SIO_OK : rc; /* over the queue limit: noted */
}

struct ep_list {
	char **names;
	size_t n;
	int failed;
};

static void
ep_collect(void *udata, const char *endpoint, const char *query)
{
	struct ep_list *l = udata;
	char **names;

	(void)query;
	names = realloc(l->names, (l->n + 1) * sizeof(*names));
	if (names == NULL || (names[l->n] = strdup(endpoint)) == NULL) {
		if (names)
			l->names = names;
		l->failed = 1;
		return;
	}
	l->names = names;
	l->n++;
}

static void
ep_list_free(struct ep_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

/* Runs an endpoint's on_close, in a handle of its own. */
static void
session_on_close(struct sio_session_ctx *x, const char *sid, const char *ep,
                 long long now)
{
	const struct sio_app *app = sio_plugin_app(x->plugin, ep);
	struct sio_conn c;

	if (app == NULL || app->on_close == NULL)
		return;
	sio_conn_init(&c, x, sid, ep, app, now);
	app->on_close(&c);
	sio_conn_cleanup(&c);
}

/*
 * Ends sid inside the caller's transaction; forget: the client ended it
 * itself or it timed out, and its later requests are answered as an
 * unknown session's (socket.io 0.9). The write lock is held from the
 * state check to the claim, so on_close runs once however many processes
 * try. Returns SESSION_ENDED, SIO_OK when already ended, SIO_ERR.
 */
static int
session_end_locked(struct sio_session_ctx *x, const char *sid,
                   const char *reason, int forget, long long now)
{
	struct sio_store *st = x->store;
	struct ep_list l = {0};
	long long last_recv;
	int rc, state;

	state = rc = sio_store_session_state(st, sid, &last_recv);
	if (rc < 0)
		return rc == SIO_AGAIN ? SIO_OK : SIO_ERR;
	if (rc == SIO_SESSION_CLOSED)
		return SIO_OK;
	if (sio_store_endpoint_list(st, sid, ep_collect, &l) < 0 || l.failed) {
		ep_list_free(&l);
		return SIO_ERR;
	}
	for (size_t i = 0; i < l.n; i++)
		session_on_close(x, sid, l.names[i], now);
	ep_list_free(&l);
	/*
	 * Only `0::`, as socket.io 0.9's onForcedDisconnect writes: the client
	 * publishes "booted" on every namespace; a `0::/ep` before it would
	 * make that namespace report a disconnect without a reason. A session
	 * forgotten gets it only on the transport attached now (socket.io 0.9
	 * writes it to the open transport alone); its later requests are
	 * answered as an unknown session's, on which the 0.9 client
	 * reconnects. One the application ended keeps it for the client's
	 * next request, so that the client stays away.
	 */
	if (!forget || state == SIO_SESSION_OPEN)
		session_queue(x, sid, "", SIO_PKT_DISCONNECT, -1, NULL, 0, now);
	if (sio_store_session_end(st, sid, reason, now) < 0 ||
	    (forget && sio_store_session_forget(st, sid) != SIO_OK) ||
	    sio_store_session_purge(st, sid) != SIO_OK)
		return SIO_ERR;
	return SESSION_ENDED;
}

/* Disconnects one endpoint; notify queues `0::/ep` (server-initiated). */
static int
session_endpoint_close(struct sio_session_ctx *x, const char *sid,
                       const char *ep, int notify, long long now)
{
	struct sio_store *st = x->store;

	session_on_close(x, sid, ep, now);
	if (sio_store_endpoint_del(st, sid, ep) != SIO_OK ||
	    sio_store_room_leave(st, sid, ep, NULL) != SIO_OK)
		return SIO_ERR;
	if (notify)
		return session_queue(x, sid, ep, SIO_PKT_DISCONNECT, -1, NULL,
		                     0, now);
	return SIO_OK;
}

/* After a callback: its result and a requested close. */
static int
session_after(struct sio_session_ctx *x, struct sio_conn *c, int rc)
{
	if (rc == SIO_AGAIN) /* a send over the queue limit: noted, not fatal */
		rc = SIO_OK;
	if (rc == SIO_ERR)
		return session_end_locked(x, c->sid, "application error", 0,
		                          c->now);
	if (!c->close_requested)
		return SIO_OK;
	if (c->endpoint[0] == '\0')
		return session_end_locked(x, c->sid, "closed by application", 0,
		                          c->now);
	return session_endpoint_close(x, c->sid, c->endpoint, 1, c->now);
}

/* SIO_AGAIN when the store holds as many live sessions as the
 * configuration allows, overall or from req's address; in the handshake's
 * transaction, so that handshakes committed together count each other. */
static int
session_admit(struct sio_session_ctx *x, const struct sio_request *req)
{
	const struct sio_config *cfg = x->cfg;
	int all, mine;

	if (cfg == NULL)
		return SIO_OK;
	if (sio_store_sessions_live(x->store, sio_request_remote(req),
	                            cfg->max_sessions_per_address, &all,
	                            &mine) != SIO_OK)
		return SIO_ERR;
	return all >= cfg->max_sessions ||
	               mine >= cfg->max_sessions_per_address
	           ? SIO_AGAIN
	           : SIO_OK;
}

int
sio_session_handshake(struct sio_session_ctx *x, const struct sio_request *req,
                      long long now, char sid[SIO_SID_LEN + 1])
{
	const struct sio_app *app = sio_plugin_app(x->plugin, "");
	struct sio_store *st = x->store;
	struct sio_conn c;
	char *json;
	int own, rc;

	/* inside the caller's transaction (a batch of handshakes): a
	 * savepoint, so that a refusal undoes only this one */
	own = !sio_store_in_transaction(st);
	json = sio_request_to_json(req, x->cfg);
	if (json == NULL ||
	    (own ? sio_store_begin(st) : sio_store_savepoint(st)) != SIO_OK) {
		free(json);
		return SIO_ERR;
	}
	rc = session_admit(x, req);
	if (rc == SIO_OK)
		rc = sio_store_session_new(st, json, now, sid);
	free(json);
	if (rc == SIO_OK)
		rc = sio_store_counter_add(st, "sessions_opened", 1);
	if (rc == SIO_OK && app && app->on_open) {
		sio_conn_init(&c, x, sid, "", app, now);
		c.open_req = req;
		rc = app->on_open(&c, req);
		if (rc == SIO_OK && c.close_requested)
			rc = SIO_REJECT;
		sio_conn_cleanup(&c);
	}
	if (rc != SIO_OK) {
		if (own)
			sio_store_rollback(st);
		else if (sio_store_in_transaction(st))
			sio_store_rollback_to(st);
		return rc == SIO_REJECT || rc == SIO_AGAIN ? rc : SIO_ERR;
	}
	return own ? sio_store_commit(st) : sio_store_release(st);
}

/* Runs an endpoint's on_open for the connect query (after '?'). */
static int
session_endpoint_open(struct sio_session_ctx *x, struct sio_conn *c,
                      const char *query)
{
	struct sio_request er;
	int rc;

	if (sio_request_init(&er, NULL, query, NULL) != SIO_OK) {
		sio_request_cleanup(&er);
		return SIO_ERR;
	}
	er.parent = sio_conn_request(c);
	c->open_req = &er;
	rc = c->app->on_open ? c->app->on_open(c, &er) : SIO_OK;
	c->open_req = NULL;
	sio_request_cleanup(&er);
	(void)x;
	return rc;
}

/* `1::/ep[?query]`: connect, answer `1::/ep`, or `7::/ep:2` when refused. */
static int
session_connect(struct sio_session_ctx *x, const char *sid,
                const struct sio_packet *p, long long now)
{
	struct sio_store *st = x->store;
	char ep[SIO_MAX_ENDPOINT + 1], query[SIO_MAX_ENDPOINT + 1];
	const char *q = memchr(p->endpoint, '?', p->endpoint_len);
	size_t eplen = q ? (size_t)(q - p->endpoint) : p->endpoint_len;
	struct sio_conn c;
	int rc;

	if (eplen == 0)
		return SIO_OK;
	if (p->endpoint_len > SIO_MAX_ENDPOINT) {
		session_note(x, "endpoint too long: %.*s", p->endpoint, eplen);
		return SIO_OK;
	}
	memcpy(ep, p->endpoint, eplen);
	ep[eplen] = '\0';
	snprintf(query, sizeof(query), "%.*s",
	         q ? (int)(p->endpoint_len - eplen - 1) : 0, q ? q + 1 : "");
	sio_conn_init(&c, x, sid, ep, sio_plugin_app(x->plugin, ep), now);
	if (c.app == NULL) {
		session_note(x, "unknown endpoint %.*s", ep, eplen);
		rc = session_queue(x, sid, ep, SIO_PKT_ERROR, -1, "2", 1, now);
		goto out;
	}
	rc = sio_store_endpoint_has(st, sid, ep);
	if (rc != 0) { /* already connected: answer again, no second on_open */
		if (rc > 0)
			rc = session_queue(x, sid, ep, SIO_PKT_CONNECT, -1,
			                   NULL, 0, now);
		goto out;
	}
	if (sio_store_savepoint(st) != SIO_OK ||
	    sio_store_endpoint_add(st, sid, ep, query) != SIO_OK ||
	    session_queue(x, sid, ep, SIO_PKT_CONNECT, -1, NULL, 0, now) !=
	        SIO_OK) {
		rc = SIO_ERR;
		goto out;
	}
	rc = session_endpoint_open(x, &c, query);
	if (rc == SIO_REJECT) {
		if (sio_store_rollback_to(st) != SIO_OK)
			rc = SIO_ERR;
		else
			rc = session_queue(x, sid, ep, SIO_PKT_ERROR, -1, "2",
			                   1, now);
		goto out;
	}
	if (sio_store_release(st) != SIO_OK)
		rc = SIO_ERR;
	else
		rc = session_after(x, &c, rc);
out:
	sio_conn_cleanup(&c);
	return rc;
}

/* Sends the ack of a data-ack request: `6:ep:id+[reply]`, or `6:ep:id`. */
static int
session_ack_reply(struct sio_conn *c, long long id, json_t *reply)
{
	struct sio_buf b;
	int rc;

	sio_buf_init(&b);
	rc = sio_buf_printf(&b, "%lld", id);
	if (rc == SIO_OK && json_array_size(reply) > 0 &&
	    (rc = sio_buf_putc(&b, '+')) == SIO_OK)
		rc = sio_json_encode(&b, reply);
	c->delay_ms = 0;
	if (rc == SIO_OK)
		rc = sio_conn_queue(c, SIO_PKT_ACK, -1, 0, b.p, b.len, 0);
	sio_buf_cleanup(&b);
	return rc == SIO_AGAIN ? SIO_OK : rc; /* over the queue limit: noted */
}

/* Finds and runs the handler of an event packet. */
static int
session_event(struct sio_session_ctx *x, struct sio_conn *c,
              const struct sio_packet *p, json_t *reply)
{
	const struct sio_event_handler *h = c->app->events;
	json_t *args;
	char *name;
	int rc = SIO_OK;

	if (sio_json_event_parse(p->data, p->data_len, &name, &args) !=
	    SIO_OK) {
		session_note(x, "bad event body: %.*s", p->data, p->data_len);
		return SIO_OK;
	}
	for (; h && h->name; h++)
		if (strcmp(h->name, name) == 0)
			break;
	if (strcmp(name, "disconnect") == 0) /* socket.io 0.9's blacklist */
		session_note(x, "event '%.*s' is reserved", name, strlen(name));
	else if (h && h->name)
		rc = h->fn(c, args, reply);
	else if (c->app->on_event)
		rc = c->app->on_event(c, name, args, reply);
	else
		session_note(x, "no handler for event '%.*s'", name,
		             strlen(name));
	json_decref(args);
	free(name);
	return rc;
}

/* Message, json and event packets to a connected endpoint. */
static int
session_deliver(struct sio_session_ctx *x, struct sio_conn *c,
                const struct sio_packet *p)
{
	json_t *reply, *v;
	int rc = SIO_OK;

	if (p->id >= 0 && !p->data_ack && /* auto-ack first, as socket.io 0.9 */
	    (rc = session_ack_reply(c, p->id, NULL)) != SIO_OK)
		return rc;
	if ((reply = json_array()) == NULL)
		return SIO_ERR;
	c->ack_requested = p->id >= 0 && p->data_ack;
	switch (p->type) {
	case SIO_PKT_MESSAGE:
		if (c->app->on_message)
			rc = c->app->on_message(c, p->data ? p->data : "",
			                        p->data_len, reply);
		break;
	case SIO_PKT_JSON:
		v = sio_json_parse(p->data ? p->data : "", p->data_len);
		if (v == NULL)
			session_note(x, "bad json: %.*s", p->data, p->data_len);
		else if (c->app->on_json)
			rc = c->app->on_json(c, v, reply);
		json_decref(v);
		break;
	default:
		rc = session_event(x, c, p, reply);
		break;
	}
	if (rc == SIO_OK && p->id >= 0 && p->data_ack)
		rc = session_ack_reply(c, p->id, reply);
	json_decref(reply);
	return session_after(x, c, rc);
}

/* An ack from the client for an event sent with sio_emit_ack(). */
static int
session_ack(struct sio_session_ctx *x, struct sio_conn *c,
            const struct sio_packet *p)
{
	const struct sio_ack_handler *h = c->app->acks;
	char *handler = NULL, *event = NULL, *name = NULL;
	json_t *args = NULL, *ack_args = NULL;
	const char *atext;
	size_t alen;
	long long id;
	int rc;

	if (sio_packet_ack_parse(p->data ? p->data : "", p->data_len, &id,
	                         &atext, &alen) != SIO_OK) {
		session_note(x, "bad ack: %.*s", p->data, p->data_len);
		return SIO_OK;
	}
	rc = sio_store_ack_take(x->store, c->sid, c->endpoint, id, &handler,
	                        &event);
	if (rc != SIO_OK) {
		if (rc == SIO_AGAIN)
			session_note(x, "ack for no pending event: %.*s",
			             p->data, p->data_len);
		return rc == SIO_AGAIN ? SIO_OK : SIO_ERR;
	}
	ack_args = atext ? sio_json_parse(atext, alen) : json_array();
	for (; h && h->name; h++)
		if (strcmp(h->name, handler) == 0)
			break;
	rc = SIO_OK;
	if (!json_is_array(ack_args))
		session_note(x, "bad ack arguments: %.*s", atext, alen);
	else if (h == NULL || h->name == NULL)
		session_note(x, "no ack handler '%.*s'", handler,
		             strlen(handler));
	else if (sio_json_event_parse(event, strlen(event), &name, &args) ==
	         SIO_OK)
		rc = session_after(x, c, h->fn(c, name, args, ack_args));
	json_decref(ack_args);
	json_decref(args);
	free(name);
	free(handler);
	free(event);
	return rc;
}

static int
session_dispatch(struct sio_session_ctx *x, const char *sid,
                 const struct sio_packet *p, long long now)
{
	char ep[SIO_MAX_ENDPOINT + 1];
	struct sio_conn c;
	int rc;

	if (p->type == SIO_PKT_CONNECT)
		return session_connect(x, sid, p, now);
	if (p->type == SIO_PKT_HEARTBEAT || p->type == SIO_PKT_NOOP ||
	    p->type == SIO_PKT_ERROR)
		return SIO_OK;
	if (p->endpoint_len > SIO_MAX_ENDPOINT) {
		session_note(x, "endpoint too long: %.*s", p->endpoint,
		             p->endpoint_len);
		return SIO_OK;
	}
	memcpy(ep, p->endpoint, p->endpoint_len);
	ep[p->endpoint_len] = '\0';
	if (p->type == SIO_PKT_DISCONNECT && ep[0] == '\0')
		return session_end_locked(x, sid, "client disconnect", 1, now);
	rc = sio_store_endpoint_has(x->store, sid, ep);
	if (rc <= 0) {
		if (rc == 0)
			session_note(x,
			             "packet for unconnected endpoint '%.*s'",
			             ep, p->endpoint_len);
		return rc;
	}
	sio_conn_init(&c, x, sid, ep, sio_plugin_app(x->plugin, ep), now);
	if (p->type == SIO_PKT_DISCONNECT)
		rc = session_endpoint_close(x, sid, ep, 0, now);
	else if (c.app == NULL)
		rc = SIO_OK;
	else if (p->type == SIO_PKT_ACK)
		rc = session_ack(x, &c, p);
	else
		rc = session_deliver(x, &c, p);
	sio_conn_cleanup(&c);
	return rc;
}

int
sio_session_receive(struct sio_session_ctx *x, const char *sid,
                    const struct sio_slice *pkts, size_t n, long long now)
{
	struct sio_store *st = x->store;
	struct sio_packet p;
	long long last_recv = 0;
	int own, rc;

	x->err[0] = '\0';
	/* inside the caller's transaction (a batch of sessions): a
	 * savepoint, so that this session's failure undoes only its part */
	own = !sio_store_in_transaction(st);
	if ((own ? sio_store_begin(st) : sio_store_savepoint(st)) != SIO_OK)
		return SIO_ERR;
	rc = sio_store_session_state(st, sid, &last_recv);
	if (rc >= 0)
		rc = rc == SIO_SESSION_CLOSED ? SIO_AGAIN : SIO_OK;
	/* timeouts count in seconds: a busy session is touched once in
	 * SIO_TOUCH_MS, not for every packet */
	if (rc == SIO_OK && now - last_recv >= SIO_TOUCH_MS)
		rc = sio_store_touch(st, sid, now);
	if (rc == SIO_OK)
		rc =
		    sio_store_counter_add(st, "packets_received", (long long)n);
	for (size_t i = 0; rc == SIO_OK && i < n; i++) {
		if (sio_packet_parse(pkts[i].p, pkts[i].len, &p) < 0) {
			session_note(x, "malformed packet: %.*s", pkts[i].p,
			             pkts[i].len);
			continue;
		}
		rc = session_dispatch(x, sid, &p, now);
	}
	if (rc == SIO_ERR || rc == SIO_AGAIN) {
		if (own)
			sio_store_rollback(st);
		else if (sio_store_in_transaction(st))
			sio_store_rollback_to(st);
		return rc;
	}
	return own ? sio_store_commit(st) : sio_store_release(st);
}

/* sio_session_end(), sio_session_disconnect() and the timeouts, in a
 * transaction. */
static int
session_end_tx(struct sio_session_ctx *x, const char *sid, const char *reason,
               int forget, long long now)
{
	int rc;

	if (sio_store_begin(x->store) != SIO_OK)
		return SIO_ERR;
	rc = session_end_locked(x, sid, reason, forget, now);
	if (rc == SIO_ERR) {
		sio_store_rollback(x->store);
		return SIO_ERR;
	}
	if (sio_store_commit(x->store) != SIO_OK)
		return SIO_ERR;
	return rc == SESSION_ENDED ? 1 : 0;
}

int
sio_session_end(struct sio_session_ctx *x, const char *sid, const char *reason,
                long long now)
{
	return session_end_tx(x, sid, reason, 0, now);
}

int
sio_session_disconnect(struct sio_session_ctx *x, const char *sid,
                       long long now)
{
	return session_end_tx(x, sid, "forced disconnect", 1, now);
}

/* Ends the sessions past their heartbeat or close timeout (those of
 * processes that died included) and forgets long-closed ones. */
static int
session_expire(struct sio_session_ctx *x, long long now)
{
	const struct sio_config *cfg = x->cfg;
	char sids[64][SIO_SID_LEN + 1];
	const char *reasons[64];
	int n, ended = 0;

	if (sio_store_reap(x->store, now, cfg->process_lease * 1000LL) < 0)
		return SIO_ERR;
	do {
		n = sio_store_expired(
		    x->store, now, cfg->heartbeat_timeout * 1000LL,
		    cfg->close_timeout * 1000LL, sids, reasons, 64);
		if (n < 0)
			return SIO_ERR;
		for (int i = 0; i < n; i++) {
			/* as socket.io 0.9: the client, if it comes
			 * back, is told to reconnect */
			int rc = session_end_tx(x, sids[i], reasons[i], 1, now);
			if (rc < 0)
				return SIO_ERR;
			ended += rc;
		}
	} while (n == 64);
	if (sio_store_cleanup(x->store, now - cfg->close_timeout * 1000LL) < 0)
		return SIO_ERR;
	return ended;
}

int
sio_session_sweep(struct sio_session_ctx *x, long long now)
{
	if (sio_store_stats_sample(x->store, now) < 0 ||
	    session_clock(x, now) < 0 ||
	    sio_store_heartbeat_due(x->store, now,
	                            x->cfg->heartbeat_interval * 1000LL, NULL,
	                            0) < 0)
		return SIO_ERR;
	return session_expire(x, now);
}

int
sio_session_timers(struct sio_session_ctx *x, const char *holder, long long now)
{
	int sweeper = sio_store_stats_sample(x->store, now);

	/* a process that holds nothing (a CGI request) has no heartbeats
	 * of its own: it sweeps when it takes the second's sample, or not */
	if (sweeper == 0 && holder == NULL)
		return 0;
	if (sweeper > 0 && session_clock(x, now) < 0)
		return SIO_ERR;
	if (sweeper < 0 ||
	    sio_store_heartbeat_due(x->store, now,
	                            x->cfg->heartbeat_interval * 1000LL, holder,
	                            sweeper ? SIO_HB_LATE_MS : -1) < 0)
		return SIO_ERR;
	return sweeper ? session_expire(x, now) : 0;
}
