/*
 * bridge.c: app = bridge (bridge.h). The first half is the application:
 * callbacks that turn each session event into a JSON body and record it
 * for the session's queue. The second half is the dispatcher: it takes a
 * session's first event from the queue, POSTs it with the HTTP client
 * (http_client.h, non-blocking, on an lws loop), and applies the answer
 * (actions.h) with the event's deletion in one transaction.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions.h"
#include "bridge.h"
#include "buf.h"
#include "conn.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "packet.h"
#include "result.h"
#include "session.h"
#include "sidset.h"
#include "sign.h"
#include "thread.h"

#define BRIDGE_SCAN_MS 1000     /* the scan for events nobody took */
#define BRIDGE_GRACE_MS 2000    /* the scan leaves newer events to the kick */
#define BRIDGE_LEASE_EXTRA 5000 /* a taken event's lease past the timeout */
#define BRIDGE_BACKOFF_MS 500   /* before the first retry; doubles */
#define BRIDGE_MAX_ENDPOINTS 64
/* The dispatcher's stack: the application's answers are parsed and
 * encoded there, jansson recursing once a nesting level. */
#define BRIDGE_STACK (2 * 1024 * 1024)

/* --- the application ------------------------------------------------------ */

/* The event of type for c, with its common members; NULL when
 * bridge_events leaves type out (or memory is short). */
static json_t *
bridge_event_new(struct sio_conn *c, int type)
{
	const struct sio_config *cfg = c->ctx->cfg;
	json_t *o, *data;
	const char *p;

	if (cfg == NULL || !(cfg->bridge_events & (1u << type)))
		return NULL;
	o = json_pack("{ss ss ss sI}", "type", sio_bridge_type_name(type),
	              "sid", c->sid, "endpoint", c->endpoint, "time",
	              (json_int_t)c->now);
	if (o == NULL || cfg->bridge_data[0] == '\0' || c->opening)
		return o;
	/* bridge_data: the session data keys each event carries */
	data = json_object();
	for (p = cfg->bridge_data; data != NULL && *p != '\0';) {
		char key[SIO_ACTIONS_MAX_NAME + 1], *v;
		size_t n;

		p += strspn(p, " ,\t");
		n = strcspn(p, " ,\t");
		if (n == 0)
			break;
		snprintf(key, sizeof(key), "%.*s",
		         (int)(n < sizeof(key) ? n : sizeof(key) - 1), p);
		p += n;
		if ((v = sio_data_get(c, key)) != NULL) {
			json_object_set_new(data, key, json_string(v));
			free(v);
		}
	}
	json_object_set_new(o, "data", data ? data : json_object());
	return o;
}

/* Records o (taken) for c's session; when it asks for the client's ack,
 * the engine leaves the ack to the application. SIO_OK or SIO_ERR. */
static int
bridge_put(struct sio_conn *c, json_t *o, int with_ack)
{
	char *s;
	int rc;

	if (with_ack && c->ack_requested)
		json_object_set_new(o, "ack", json_integer(c->ack_id));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		return SIO_ERR;
	rc = sio_conn_bridge_put(c, s, strlen(s));
	free(s);
	if (rc == SIO_OK && with_ack)
		sio_conn_ack_defer(c);
	return rc;
}

/* The pairs of l as an object (a repeated name: the last one). */
static json_t *
bridge_pairs(const struct sio_request_kv *l, size_t n,
             const struct sio_config *cfg)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && i < n; i++) {
		if (strlen(l[i].value) > SIO_REQUEST_FIELD_MAX ||
		    (cfg != NULL && !sio_config_cookie_kept(cfg, l[i].name,
		                                            strlen(l[i].name))))
			continue;
		json_object_set_new(o, l[i].name, json_string(l[i].value));
	}
	return o;
}

/* bridge_url parsed (and its name resolved) once per URL and process. */
static int
bridge_target(const char *url, struct sio_http_target *t, char *err)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char cached_url[sizeof(((struct sio_config *)0)->bridge_url)];
	static struct sio_http_target cached;
	int rc = SIO_OK;

	pthread_mutex_lock(&lock);
	if (strcmp(cached_url, url) != 0) {
		rc = sio_http_target_parse(url, &cached, err);
		if (rc == SIO_OK)
			snprintf(cached_url, sizeof(cached_url), "%s", url);
	}
	if (rc == SIO_OK)
		*t = cached;
	pthread_mutex_unlock(&lock);
	return rc;
}

/* The signed headers of body (X-Siogate-Signature, -Event, -Session) in
 * h (6 strings, sig their storage). SIO_OK or SIO_ERR. */
static int
bridge_headers(const struct sio_config *cfg, const char *body, size_t len,
               const char *type, const char *sid, char sig[SIO_SIGN_LEN],
               const char *h[6])
{
	if (sio_sign(cfg->bridge_secret, body, len, sio_session_now() / 1000,
	             sig) != SIO_OK)
		return SIO_ERR;
	h[0] = SIO_SIGN_HEADER;
	h[1] = sig;
	h[2] = "X-Siogate-Event";
	h[3] = type;
	h[4] = "X-Siogate-Session";
	h[5] = sid;
	return SIO_OK;
}

/*
 * bridge_open = wait: the open is POSTed now, the handshake waiting for
 * the answer (bridge_timeout at most): a reject refuses the handshake
 * (403, as a C on_open's SIO_REJECT). Other actions are queued with the
 * event as its answer ("answer"), which the dispatcher applies, without
 * a request, once the session is stored and before its later events. A
 * failure is noted; with bridge_on_error = end it refuses the handshake,
 * else the session opens without the application's actions.
 */
static int
bridge_open_wait(struct sio_conn *c, json_t *o)
{
	const struct sio_config *cfg = c->ctx->cfg;
	struct sio_actions_self self = {c->sid, "", -1, 1};
	struct sio_http_result r = {0};
	struct sio_http_target t;
	struct sio_actions *a = NULL;
	char sig[SIO_SIGN_LEN], why[SIO_ERR_LEN] = "";
	const char *h[6];
	json_t *answer = NULL;
	char *body;
	int rc = SIO_OK;

	json_object_set_new(o, "seq", json_integer(0));
	json_object_set_new(o, "try", json_integer(1));
	body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (body == NULL || bridge_target(cfg->bridge_url, &t, why) != SIO_OK ||
	    bridge_headers(cfg, body, strlen(body), "open", c->sid, sig, h) !=
	        SIO_OK ||
	    sio_http_post_wait(&t, h, 3, body, strlen(body),
	                       cfg->bridge_timeout * 1000L,
	                       cfg->bridge_max_response, &r) != SIO_OK) {
		if (why[0] == '\0')
			sio_err(why, "out of memory");
	} else if (r.failure != SIO_HTTP_OK) {
		sio_err(why, "%s", r.err[0] ? r.err : "request failed");
	} else if (r.status != 200 && r.status != 204) {
		sio_err(why, "status %d", r.status);
	} else if (r.status == 200 && r.len > strspn(r.body, " \t\r\n")) {
		if (sio_actions_parse_self(
		        r.body, r.len, (size_t)cfg->publish_max_actions,
		        cfg->max_packet, &self, &a, why) == SIO_OK)
			answer = sio_json_parse(r.body, r.len);
	}
	free(body);
	if (why[0] != '\0') { /* the transport logs the run's note */
		snprintf(c->ctx->err, sizeof(c->ctx->err),
		         "bridge: open of %s failed: %.180s", c->sid, why);
		rc = cfg->bridge_on_error == SIO_BRIDGE_END ? SIO_REJECT
		                                            : SIO_OK;
	} else if (a != NULL && sio_actions_rejected(a)) {
		rc = SIO_REJECT;
	} else if (a != NULL && sio_actions_count(a) > 0 && answer != NULL) {
		json_object_set(o, "answer", answer);
		json_object_del(o, "seq");
		json_object_del(o, "try");
		rc = bridge_put(c, json_incref(o), 0);
	}
	sio_actions_free(a);
	json_decref(answer);
	json_decref(o);
	sio_http_result_free(&r);
	return rc;
}

/* open: the handshake's query, kept cookies, address and headers. */
static int
bridge_open(struct sio_conn *c, const struct sio_request *req)
{
	json_t *o = bridge_event_new(c, SIO_BRIDGE_OPEN), *h;

	if (o == NULL)
		return SIO_OK;
	h = json_object();
	for (size_t i = 0; h != NULL && i < req->nheaders; i++) {
		char name[32];
		size_t k;

		for (k = 0; k + 1 < sizeof(name) && req->headers[i].name[k];
		     k++)
			name[k] = (char)tolower(
			    (unsigned char)req->headers[i].name[k]);
		name[k] = '\0';
		if (strcmp(name, "accept-language") != 0 &&
		    strcmp(name, "x-forwarded-for") != 0 &&
		    strlen(req->headers[i].value) <= SIO_REQUEST_FIELD_MAX)
			json_object_set_new(h, name,
			                    json_string(req->headers[i].value));
	}
	json_object_set_new(o, "query",
	                    bridge_pairs(req->args, req->nargs, NULL));
	json_object_set_new(
	    o, "cookies",
	    bridge_pairs(req->cookies, req->ncookies, c->ctx->cfg));
	json_object_set_new(o, "address", json_string(sio_request_remote(req)));
	json_object_set_new(o, "headers", h ? h : json_object());
	if (c->ctx->cfg->bridge_open_wait)
		return bridge_open_wait(c, o);
	return bridge_put(c, o, 0);
}

/* on_open: the root's open, an endpoint's connect (its `1::/ep` waits
 * for the application's answer). */
static int
bridge_on_open(struct sio_conn *c, const struct sio_request *req)
{
	json_t *o;

	if (c->endpoint[0] == '\0')
		return bridge_open(c, req);
	if ((o = bridge_event_new(c, SIO_BRIDGE_CONNECT)) == NULL)
		return SIO_OK;
	json_object_set_new(o, "query",
	                    bridge_pairs(req->args, req->nargs, NULL));
	if (bridge_put(c, o, 0) != SIO_OK)
		return SIO_ERR;
	sio_conn_connect_defer(c);
	return SIO_OK;
}

static int
bridge_on_message(struct sio_conn *c, const char *msg, size_t len,
                  json_t *reply)
{
	json_t *o = bridge_event_new(c, SIO_BRIDGE_MESSAGE), *m;

	(void)reply;
	if (o == NULL)
		return SIO_OK;
	if ((m = json_stringn(msg, len)) == NULL) { /* not UTF-8 */
		json_decref(o);
		return SIO_OK;
	}
	json_object_set_new(o, "message", m);
	return bridge_put(c, o, 1);
}

static int
bridge_on_json(struct sio_conn *c, json_t *value, json_t *reply)
{
	json_t *o = bridge_event_new(c, SIO_BRIDGE_JSON);

	(void)reply;
	if (o == NULL)
		return SIO_OK;
	json_object_set(o, "message", value);
	return bridge_put(c, o, 1);
}

static int
bridge_on_event(struct sio_conn *c, const char *name, json_t *args,
                json_t *reply)
{
	json_t *o = bridge_event_new(c, SIO_BRIDGE_EVENT);

	(void)reply;
	if (o == NULL)
		return SIO_OK;
	json_object_set_new(o, "name", json_string(name));
	json_object_set(o, "args", args ? args : json_array());
	return bridge_put(c, o, 1);
}

/* The root's close (the session ended, with its reason), an endpoint's
 * disconnect. */
static void
bridge_on_close(struct sio_conn *c)
{
	const char *reason = sio_conn_close_reason(c);
	json_t *o =
	    bridge_event_new(c, c->endpoint[0] == '\0' ? SIO_BRIDGE_CLOSE
	                                               : SIO_BRIDGE_DISCONNECT);

	if (o == NULL)
		return;
	if (reason != NULL || c->endpoint[0] == '\0')
		json_object_set_new(o, "reason",
		                    json_string(reason ? reason : "closed"));
	(void)bridge_put(c, o, 0);
}

const struct sio_plugin *
sio_bridge_plugin(const struct sio_config *cfg, char *err)
{
	struct sio_plugin *p;
	const struct sio_app **apps;
	struct sio_app *v;
	const char *s = cfg->bridge_endpoints;
	char *names;
	size_t n = 1;

	p = calloc(1, sizeof(*p));
	apps = calloc(BRIDGE_MAX_ENDPOINTS + 2, sizeof(*apps));
	v = calloc(BRIDGE_MAX_ENDPOINTS + 1, sizeof(*v));
	names = strdup(cfg->bridge_endpoints);
	if (p == NULL || apps == NULL || v == NULL || names == NULL) {
		free(p);
		free(apps);
		free(v);
		free(names);
		sio_err(err, "out of memory");
		return NULL;
	}
	v[0].endpoint = "";
	for (char *w = names; *s != '\0';) {
		size_t k;

		s += strspn(s, " ,\t");
		k = strcspn(s, " ,\t");
		if (k == 0)
			break;
		if (s[0] != '/' || k < 2 || memchr(s, ':', k) != NULL ||
		    memchr(s, '?', k) != NULL || n > BRIDGE_MAX_ENDPOINTS) {
			sio_err(err,
			        "bridge_endpoints: bad endpoint '%.*s' (/name, "
			        "at most %d)",
			        (int)(k > 64 ? 64 : k), s,
			        BRIDGE_MAX_ENDPOINTS);
			free(p);
			free(apps);
			free(v);
			free(names);
			return NULL;
		}
		memcpy(w, s, k);
		w[k] = '\0';
		v[n++].endpoint = w;
		w += k + 1;
		s += k;
	}
	for (size_t i = 0; i < n; i++) {
		v[i].on_open = bridge_on_open;
		v[i].on_message = bridge_on_message;
		v[i].on_json = bridge_on_json;
		v[i].on_event = bridge_on_event;
		v[i].on_close = bridge_on_close;
		apps[i] = &v[i];
	}
	p->api_version = SIO_API_VERSION;
	p->name = "bridge";
	p->apps = apps;
	return p;
}

/* --- the dispatcher ------------------------------------------------------- */

/* One event taken from the queue, then in flight. */
struct bridge_req {
	struct sio_bridge *b;
	char sid[SIO_SID_LEN + 1];
	long long seq;
	int tries;
	int type; /* enum sio_bridge_event_type; -1: a row that is no event */
	char endpoint[SIO_MAX_ENDPOINT + 1];
	long long ack;
	char *body; /* what is sent: the row with seq and try */
	size_t len;
	char *answer; /* an open answered at the handshake: its answer */
	struct bridge_req *next;
};

struct sio_bridge {
	const struct sio_config *cfg; /* &cfg_copy */
	struct sio_config cfg_copy;
	struct sio_session_ctx x; /* the dispatcher's own store */
	struct sio_http_client *http;
	pthread_t thread;
	int threaded;
	atomic_int stopping;
	struct sio_http_target target;
	char taker[SIO_HOLDER_LEN];
	sio_bridge_log_fn log;
	pthread_mutex_t lock; /* kicked: any thread */
	struct sio_sidset kicked;
	int inflight;
	long long last_scan;
	long long retry_at;       /* the last retry this process released */
	struct bridge_req *taken; /* by the take in progress */
	int ntaken;
	struct sio_ratelimit rl;
};

static void bridge_log(struct sio_bridge *b, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A line, rate-limited: a dead application fails every event. */
static void
bridge_log(struct sio_bridge *b, int level, const char *fmt, ...)
{
	char msg[512];
	unsigned dropped = 0;
	va_list ap;

	if (b->log == NULL || !sio_ratelimit_take(&b->rl, sio_session_mono(),
	                                          20, 10000, &dropped))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (dropped > 0) {
		char more[600];

		snprintf(more, sizeof(more), "%s (and %u lines dropped)", msg,
		         dropped);
		b->log(level, more);
		return;
	}
	b->log(level, msg);
}

struct sio_bridge *
sio_bridge_new(const struct sio_config *cfg, const struct sio_plugin *plugin,
               struct sio_store *st, const char *taker, sio_bridge_log_fn log,
               char *err)
{
	struct sio_bridge *b = calloc(1, sizeof(*b));

	if (b == NULL) {
		sio_err(err, "out of memory");
		return NULL;
	}
	if (sio_http_target_parse(cfg->bridge_url, &b->target, err) != SIO_OK) {
		free(b);
		return NULL;
	}
	/* a copy: the thread that runs b never reads what a reload writes */
	b->cfg_copy = *cfg;
	b->cfg = &b->cfg_copy;
	b->x.cfg = b->cfg;
	b->x.plugin = plugin;
	b->x.store = st;
	b->log = log;
	snprintf(b->taker, sizeof(b->taker), "%s", taker);
	pthread_mutex_init(&b->lock, NULL);
	sio_sidset_init(&b->kicked, 0);
	return b;
}

void
sio_bridge_set_store(struct sio_bridge *b, struct sio_store *st)
{
	b->x.store = st;
}

static void
bridge_req_free(struct bridge_req *q)
{
	if (q == NULL)
		return;
	free(q->body);
	free(q->answer);
	free(q);
}

void
sio_bridge_free(struct sio_bridge *b)
{
	struct bridge_req *q;

	if (b == NULL)
		return;
	if (b->threaded) {
		atomic_store(&b->stopping, 1);
		sio_http_client_wake(b->http);
		pthread_join(b->thread, NULL);
	}
	sio_http_client_free(b->http); /* each done runs: cancelled */
	while ((q = b->taken) != NULL) {
		b->taken = q->next;
		bridge_req_free(q);
	}
	sio_sidset_cleanup(&b->kicked);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void
sio_bridge_kick(struct sio_bridge *b, const char *sid)
{
	pthread_mutex_lock(&b->lock);
	if (sio_sidset_find(&b->kicked, sid) < 0)
		(void)sio_sidset_add(&b->kicked, sid); /* lost: a scan */
	pthread_mutex_unlock(&b->lock);
	if (b->http != NULL)
		sio_http_client_wake(b->http);
}

static void
bridge_hook_kick(void *udata, const char *sid)
{
	sio_bridge_kick(udata, sid);
}

void
sio_bridge_hook(struct sio_store *st, struct sio_bridge *b)
{
	sio_store_set_bridge_hook(st, b != NULL ? bridge_hook_kick : NULL, b);
}

int
sio_bridge_busy(struct sio_bridge *b)
{
	int n;

	pthread_mutex_lock(&b->lock);
	n = (int)sio_sidset_len(&b->kicked) + b->kicked.lost;
	pthread_mutex_unlock(&b->lock);
	return n > 0 || b->inflight > 0 ||
	       b->retry_at + BRIDGE_SCAN_MS > sio_session_now();
}

/* The type word's index, or -1. */
static int
bridge_type(const char *s)
{
	for (int t = 0; s != NULL && t < SIO_BRIDGE_NTYPES; t++)
		if (strcmp(s, sio_bridge_type_name(t)) == 0)
			return t;
	return -1;
}

/* The store's take: the event, read and made ready to send (a row that is
 * not one of ours, written by hand, is type -1: deleted unsent). */
static void
bridge_taken(void *udata, const struct sio_store_bridge_event *e)
{
	struct sio_bridge *b = udata;
	struct bridge_req *q = calloc(1, sizeof(*q));
	json_t *o, *ack;
	const char *ep;

	if (q == NULL)
		return; /* taken by nobody: again after the lease */
	q->b = b;
	snprintf(q->sid, sizeof(q->sid), "%s", e->sid);
	q->seq = e->seq;
	q->tries = e->tries;
	q->ack = -1;
	/* a row may be written by hand; an event's own is a packet's JSON
	 * (SIO_JSON_MAX_DEPTH at most) in an object or two */
	o = sio_json_depth_ok(e->body, e->len, SIO_JSON_MAX_DEPTH + 4)
	        ? json_loadb(e->body, e->len, 0, NULL)
	        : NULL;
	q->type = bridge_type(json_string_value(json_object_get(o, "type")));
	ep = json_string_value(json_object_get(o, "endpoint"));
	ack = json_object_get(o, "ack");
	if (ep == NULL || strlen(ep) > SIO_MAX_ENDPOINT)
		q->type = -1;
	else
		strcpy(q->endpoint, ep);
	if (json_is_integer(ack))
		q->ack = json_integer_value(ack);
	if (json_object_get(o, "answer") != NULL &&
	    (q->answer = json_dumps(json_object_get(o, "answer"),
	                            JSON_COMPACT)) == NULL)
		q->type = -1;
	if (q->type >= 0 &&
	    (json_object_set_new(o, "seq", json_integer(e->seq)) != 0 ||
	     json_object_set_new(o, "try", json_integer(e->tries)) != 0 ||
	     (q->body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	         NULL))
		q->type = -1;
	q->len = q->body ? strlen(q->body) : 0;
	json_decref(o);
	q->next = b->taken;
	b->taken = q;
	b->ntaken++;
}

/* Queues pkt (type on q's endpoint, data may be NULL) for q's session;
 * ignores a session gone or the endpoint (then the packet has nobody).
 * Inside the caller's transaction. SIO_OK or SIO_ERR. */
static int
bridge_queue_packet(struct sio_bridge *b, const struct bridge_req *q, int type,
                    const char *data, int connected_only)
{
	struct sio_actions_target t = {q->sid, NULL, q->endpoint, NULL};
	char err[SIO_ERR_LEN];
	struct sio_buf pkt;
	int rc;

	sio_buf_init(&pkt);
	rc = sio_actions_encode(&pkt, type, q->endpoint, data,
	                        data ? strlen(data) : 0, SIZE_MAX, err);
	if (rc == SIO_OK)
		rc = connected_only
		         ? sio_actions_queue(b->x.store, &t, pkt.p, pkt.len, 0)
		         : sio_store_outbox_put(b->x.store, q->sid, pkt.p,
		                                pkt.len, 0, 0);
	sio_buf_cleanup(&pkt);
	return rc == SIO_ERR ? SIO_ERR : SIO_OK;
}

/* A connect answered: accepted, the endpoint connected now (the engine
 * left it unconnected, sio_conn_connect_defer()) and `1::/ep`; refused
 * (or failed), `7::/ep:2`, as a C on_open's SIO_REJECT. Nothing for a
 * session that ended meanwhile. */
static int
bridge_connect_answer(struct sio_bridge *b, const struct bridge_req *q,
                      int accept)
{
	struct sio_store *st = b->x.store;
	long long last_recv;
	int state = sio_store_session_state(st, q->sid, &last_recv);

	if (state == SIO_ABSENT ||
	    (state >= 0 && sio_session_next(state, -1, SIO_EVENT_END) == NULL))
		return SIO_OK;
	if (state < 0)
		return SIO_ERR;
	if (accept &&
	    sio_store_endpoint_add(st, q->sid, q->endpoint, "") != SIO_OK)
		return SIO_ERR;
	return bridge_queue_packet(b, q,
	                           accept ? SIO_PKT_CONNECT : SIO_PKT_ERROR,
	                           accept ? NULL : "2", 0);
}

/* What an answer said: OK (with its actions in *a, NULL for none), RETRY
 * (it did not reach the application), FAIL; the reason in why. */
enum bridge_outcome { BRIDGE_OK, BRIDGE_RETRY, BRIDGE_FAIL };

static enum bridge_outcome
bridge_outcome(struct sio_bridge *b, const struct bridge_req *q,
               const struct sio_http_result *r, struct sio_actions **a,
               char *why)
{
	struct sio_actions_self self = {q->sid, q->endpoint, q->ack,
	                                q->type == SIO_BRIDGE_OPEN ||
	                                    q->type == SIO_BRIDGE_CONNECT};
	const struct sio_config *cfg = b->cfg;
	size_t i;

	*a = NULL;
	if (r->failure != SIO_HTTP_OK) {
		sio_err(why, "%s", r->err[0] ? r->err : "request failed");
		return r->failure == SIO_HTTP_CONNECT ? BRIDGE_RETRY
		                                      : BRIDGE_FAIL;
	}
	if (r->status == 502 || r->status == 503 || r->status == 504) {
		sio_err(why, "status %d", r->status);
		return BRIDGE_RETRY;
	}
	for (i = 0; i < r->len && strchr(" \t\r\n", r->body[i]); i++)
		;
	if (r->status == 204 || (r->status == 200 && i == r->len))
		return BRIDGE_OK;
	if (r->status != 200) {
		sio_err(why, "status %d", r->status);
		return BRIDGE_FAIL;
	}
	if (sio_actions_parse_self(r->body, r->len,
	                           (size_t)cfg->publish_max_actions,
	                           cfg->max_packet, &self, a, why) != SIO_OK) {
		char reason[SIO_ERR_LEN];

		memcpy(reason, why, sizeof(reason));
		sio_err(why, "bad answer: %.200s", reason);
		return BRIDGE_FAIL;
	}
	return BRIDGE_OK;
}

/* Begins the transaction that deletes q's event: SIO_OK; SIO_ABSENT (the
 * lease lapsed and another process took it: its answer is not ours to
 * apply; nothing open); SIO_ERR. */
static int
bridge_done_begin(struct sio_bridge *b, const struct bridge_req *q)
{
	struct sio_store *st = b->x.store;
	int rc;

	if (sio_store_begin(st) != SIO_OK)
		return SIO_ERR;
	rc = sio_store_bridge_done(st, q->sid, q->seq, b->taker);
	if (rc != SIO_OK) {
		sio_store_rollback(st);
		if (rc == SIO_ABSENT)
			bridge_log(b, SIO_LOG_WARN,
			           "bridge: %s %lld of %s was taken again "
			           "(its lease lapsed): this answer dropped",
			           sio_bridge_type_name(q->type), q->seq,
			           q->sid);
	}
	return rc;
}

static int
bridge_commit(struct sio_bridge *b)
{
	if (sio_store_commit(b->x.store) == SIO_OK)
		return SIO_OK;
	bridge_log(b, SIO_LOG_WARN, "bridge: store: %s",
	           sio_store_errmsg(b->x.store));
	return SIO_ERR;
}

/* An answer's actions: the connect's answer first, then the actions, with
 * the event's deletion; then the disconnects and an open's reject. */
static void
bridge_apply(struct sio_bridge *b, const struct bridge_req *q,
             const struct sio_actions *a, long long now)
{
	struct sio_store *st = b->x.store;
	int rejected = a != NULL && sio_actions_rejected(a);
	json_t *results = json_array();
	size_t i;

	if (results == NULL || bridge_done_begin(b, q) != SIO_OK) {
		json_decref(results);
		return;
	}
	if ((q->type == SIO_BRIDGE_CONNECT &&
	     bridge_connect_answer(b, q, !rejected) != SIO_OK) ||
	    (a != NULL &&
	     sio_actions_apply_locked(&b->x, a, results) != SIO_OK)) {
		bridge_log(b, SIO_LOG_WARN, "bridge: store: %s",
		           sio_store_errmsg(st));
		sio_store_rollback(st);
		json_decref(results);
		return;
	}
	if (bridge_commit(b) != SIO_OK) {
		json_decref(results);
		return;
	}
	for (i = 0; a != NULL && i < sio_actions_count(a); i++) {
		const char *e;

		if (sio_actions_is_disconnect(a, i))
			sio_actions_disconnect(&b->x, a, i, now, results);
		e = json_string_value(
		    json_object_get(json_array_get(results, i), "error"));
		if (e != NULL)
			bridge_log(b, SIO_LOG_INFO,
			           "bridge: answer to %s %lld of %s: action "
			           "%zu: %s",
			           sio_bridge_type_name(q->type), q->seq,
			           q->sid, i, e);
	}
	json_decref(results);
	if (q->type == SIO_BRIDGE_OPEN && rejected)
		sio_session_end(&b->x, q->sid, "rejected", now);
}

/* After the last failure: the event deleted, and what bridge_on_error
 * says (a connect is refused whatever it says). */
static void
bridge_fail(struct sio_bridge *b, const struct bridge_req *q, const char *why,
            long long now)
{
	int on_error = b->cfg->bridge_on_error, rc = SIO_OK;
	int gone = q->type == SIO_BRIDGE_CLOSE || q->type < 0;

	bridge_log(b, SIO_LOG_WARN, "bridge: %s %lld of %s failed (try %d): %s",
	           q->type >= 0 ? sio_bridge_type_name(q->type) : "row", q->seq,
	           q->sid, q->tries, why);
	if (bridge_done_begin(b, q) != SIO_OK)
		return;
	if (q->type == SIO_BRIDGE_CONNECT)
		rc = bridge_connect_answer(b, q, 0);
	else if (!gone && on_error == SIO_BRIDGE_ERROR)
		rc = bridge_queue_packet(b, q, SIO_PKT_ERROR, NULL, 1);
	if (rc != SIO_OK) {
		sio_store_rollback(b->x.store);
		return;
	}
	if (bridge_commit(b) == SIO_OK && !gone &&
	    q->type != SIO_BRIDGE_CONNECT && on_error == SIO_BRIDGE_END)
		sio_session_end(&b->x, q->sid, "bridge failed", now);
}

/* The HTTP client's answer to q. */
static void
bridge_done(void *udata, const struct sio_http_result *r)
{
	struct bridge_req *q = udata;
	struct sio_bridge *b = q->b;
	long long now = sio_session_now(), next;
	struct sio_actions *a = NULL;
	char why[SIO_ERR_LEN];

	b->inflight--;
	switch (bridge_outcome(b, q, r, &a, why)) {
	case BRIDGE_OK:
		bridge_apply(b, q, a, now);
		break;
	case BRIDGE_RETRY:
		if (q->tries <= b->cfg->bridge_retries) {
			next = now + ((long long)BRIDGE_BACKOFF_MS
			              << (q->tries > 6 ? 6 : q->tries - 1));
			bridge_log(b, SIO_LOG_INFO,
			           "bridge: %s %lld of %s: %s, try %d at +%lld "
			           "ms",
			           sio_bridge_type_name(q->type), q->seq,
			           q->sid, why, q->tries + 1, next - now);
			if (next > b->retry_at)
				b->retry_at = next;
			if (sio_store_bridge_retry(b->x.store, q->sid, q->seq,
			                           b->taker, next) == SIO_ERR)
				bridge_log(b, SIO_LOG_WARN, "bridge: store: %s",
				           sio_store_errmsg(b->x.store));
			break;
		}
		/* fall through */
	case BRIDGE_FAIL:
		bridge_fail(b, q, why, now);
		break;
	}
	sio_actions_free(a);
	sio_bridge_kick(b, q->sid); /* its next event */
	bridge_req_free(q);
}

/* The HTTP client, made at the first use (a CGI request that sends
 * nothing makes no lws context). */
static int
bridge_client(struct sio_bridge *b)
{
	char err[SIO_ERR_LEN];

	if (b->http != NULL)
		return SIO_OK;
	b->http = sio_http_client_new(NULL, b->cfg->bridge_max_inflight, err);
	if (b->http == NULL) {
		bridge_log(b, SIO_LOG_ERROR, "bridge: http client: %s", err);
		return SIO_ERR;
	}
	return SIO_OK;
}

/* Sends q, or gives it back to the queue. */
static void bridge_done(void *udata, const struct sio_http_result *r);

static void
bridge_start(struct sio_bridge *b, struct bridge_req *q, long long now)
{
	const struct sio_config *cfg = b->cfg;
	char sig[SIO_SIGN_LEN];
	const char *headers[6];
	int rc;

	if (q->type < 0) {
		bridge_fail(b, q, "not an event", now);
		bridge_req_free(q);
		return;
	}
	if (q->answer != NULL) { /* answered at the handshake: applied */
		struct sio_http_result r = {SIO_HTTP_OK, 200, q->answer,
		                            strlen(q->answer), ""};

		b->inflight++;
		bridge_done(q, &r);
		return;
	}
	if (bridge_client(b) != SIO_OK ||
	    bridge_headers(cfg, q->body, q->len, sio_bridge_type_name(q->type),
	                   q->sid, sig, headers) != SIO_OK)
		rc = SIO_ERR;
	else
		rc = sio_http_post(b->http, &b->target, headers, 3, q->body,
		                   q->len, cfg->bridge_timeout * 1000L,
		                   cfg->bridge_max_response, bridge_done, q);
	if (rc == SIO_OK) {
		b->inflight++;
		return;
	}
	/* not sent: taken again at once (its try counted all the same) */
	sio_store_bridge_retry(b->x.store, q->sid, q->seq, b->taker, 0);
	bridge_req_free(q);
}

int
sio_bridge_run(struct sio_bridge *b, long long now)
{
	struct sio_store *st = b->x.store;
	const struct sio_config *cfg = b->cfg;
	long long lease = cfg->bridge_timeout * 1000LL + BRIDGE_LEASE_EXTRA;
	struct sio_sidset kicked;
	struct bridge_req *q;
	size_t i;
	int lost;

	pthread_mutex_lock(&b->lock);
	kicked = b->kicked;
	lost = b->kicked.lost;
	sio_sidset_init(&b->kicked, 0);
	pthread_mutex_unlock(&b->lock);
	b->ntaken = 0;
	for (i = 0; i < sio_sidset_len(&kicked); i++) {
		if (b->inflight + b->ntaken >= cfg->bridge_max_inflight)
			break;
		if (sio_store_bridge_take(st, sio_sidset_sid(&kicked, i),
		                          b->taker, now, lease, 0, 1,
		                          bridge_taken, b) < 0)
			bridge_log(b, SIO_LOG_WARN, "bridge: store: %s",
			           sio_store_errmsg(st));
	}
	/* those left for want of a free request: kicked again by the
	 * answers that free one */
	for (; i < sio_sidset_len(&kicked); i++) {
		pthread_mutex_lock(&b->lock);
		(void)sio_sidset_add(&b->kicked, sio_sidset_sid(&kicked, i));
		pthread_mutex_unlock(&b->lock);
	}
	sio_sidset_cleanup(&kicked);
	if ((lost || now - b->last_scan >= BRIDGE_SCAN_MS) &&
	    b->inflight + b->ntaken < cfg->bridge_max_inflight) {
		b->last_scan = now;
		if (sio_store_bridge_take(
		        st, NULL, b->taker, now, lease, BRIDGE_GRACE_MS,
		        cfg->bridge_max_inflight - b->inflight - b->ntaken,
		        bridge_taken, b) < 0)
			bridge_log(b, SIO_LOG_WARN, "bridge: store: %s",
			           sio_store_errmsg(st));
	}
	while ((q = b->taken) != NULL) {
		b->taken = q->next;
		bridge_start(b, q, now);
	}
	b->ntaken = 0;
	return b->inflight;
}

int
sio_bridge_service(struct sio_bridge *b, int timeout_ms, int take)
{
	if (bridge_client(b) != SIO_OK ||
	    sio_http_client_service(b->http, timeout_ms) != SIO_OK)
		return SIO_ERR;
	return take ? sio_bridge_run(b, sio_session_now()) : b->inflight;
}

static void *
bridge_thread(void *arg)
{
	struct sio_bridge *b = arg;
	const struct timespec nap = {1, 0};

	while (!atomic_load(&b->stopping))
		if (sio_bridge_service(b, SIO_WATCH_MS, 1) < 0)
			nanosleep(&nap, NULL); /* logged */
	return NULL;
}

int
sio_bridge_start(struct sio_bridge *b, char *err)
{
	int rc;

	/* made here, before any other thread may wake it */
	if (bridge_client(b) != SIO_OK)
		return sio_err(err, "cannot start the http client");
	rc = sio_thread_start(bridge_thread, b, BRIDGE_STACK, &b->thread);
	if (rc != 0)
		return sio_err(err, "bridge thread: %s", strerror(rc));
	b->threaded = 1;
	return SIO_OK;
}
