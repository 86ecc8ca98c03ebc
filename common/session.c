/*
 * session.c: the protocol rules that hold whatever the transport (see
 * session.h). Application code runs in a run phase that holds no store
 * lock: it reads the store and records what it writes (effects.h). The
 * apply phase then writes those effects, with the state change that
 * caused them, in one transaction that first re-checks the session, so
 * that two processes handling the same session serialise on the store and
 * a handler's writes land together or not at all.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "conn.h"
#include "effects.h"
#include "json.h"
#include "packet.h"
#include "plugin.h"
#include "result.h"
#include "session.h"

/* dispatch results besides SIO_OK / SIO_ERR, apart from siogate.h's codes */
enum session_result {
	SESSION_ENDED = 100, /* the session's end is recorded: stop */
};

/* --- the transitions ----------------------------------------------------- */

#define H SIO_SESSION_HANDSHAKEN
#define O SIO_SESSION_OPEN
#define D SIO_SESSION_DETACHED
#define C SIO_SESSION_CLOSED
#define N SIO_SESSION_NONE
/* the transports that hold a connection open: they get heartbeats */
#define PERSISTENT                                                             \
	((1u << SIO_TRANSPORT_WEBSOCKET) | (1u << SIO_TRANSPORT_FLASHSOCKET) | \
	 (1u << SIO_TRANSPORT_HTMLFILE))
#define ATTACHED                                                               \
	"transport, holder, detached_at none, last_recv = last_heartbeat = "   \
	"now; connections_opened + 1"
#define ENDED "closed_at, close_reason; then purged"

const struct sio_session_rule sio_session_rules[] = {
    {N, SIO_EVENT_HANDSHAKE, 0, H, "row, request, created; sessions_opened + 1",
     "client: the handshake answer"},
    {N, SIO_EVENT_REFUSED, 0, N, "nothing", "client: 403 or 503"},
    {H, SIO_EVENT_ATTACH, 0, O, ATTACHED, "the transport: `1::` first"},
    {O, SIO_EVENT_ATTACH, 0, O, ATTACHED,
     "the previous holder is rung; `1::` first if never sent"},
    {D, SIO_EVENT_ATTACH, 0, O, ATTACHED, "`1::` first if never sent"},
    {C, SIO_EVENT_ATTACH, 0, C, "nothing",
     "the transport: final packets, or the unknown-session answer"},
    {O, SIO_EVENT_DETACH, 0, D, "detached_at = now, holder none", "nobody"},
    {C, SIO_EVENT_DETACH, 0, C, "holder none", "nobody"},
    {O, SIO_EVENT_SUPERSEDED, 0, O, "nothing", "nobody"},
    {C, SIO_EVENT_SUPERSEDED, 0, C, "nothing", "nobody"},
    {H, SIO_EVENT_PACKET, 0, H,
     "last_recv (once SIO_TOUCH_MS old), packets_received", "the application"},
    {O, SIO_EVENT_PACKET, 0, O,
     "last_recv (once SIO_TOUCH_MS old), packets_received", "the application"},
    {D, SIO_EVENT_PACKET, 0, D,
     "last_recv (once SIO_TOUCH_MS old), packets_received", "the application"},
    {O, SIO_EVENT_HEARTBEAT_DUE, PERSISTENT, O, "last_heartbeat; `2::` queued",
     "the holder is rung"},
    {O, SIO_EVENT_HEARTBEAT_TIMEOUT, PERSISTENT, C, ENDED "; forgotten",
     "on_close; `0::` to the attached transport"},
    {H, SIO_EVENT_CLOSE_TIMEOUT, 0, C, ENDED "; forgotten", "on_close"},
    {D, SIO_EVENT_CLOSE_TIMEOUT, 0, C, ENDED "; forgotten", "on_close"},
    {H, SIO_EVENT_END, 0, C, ENDED,
     "on_close; `0::` kept for the next request"},
    {O, SIO_EVENT_END, 0, C, ENDED,
     "on_close; `0::` kept for the next request"},
    {D, SIO_EVENT_END, 0, C, ENDED,
     "on_close; `0::` kept for the next request"},
    {H, SIO_EVENT_DISCONNECT, 0, C, ENDED "; forgotten", "on_close"},
    {O, SIO_EVENT_DISCONNECT, 0, C, ENDED "; forgotten",
     "on_close; `0::` to the attached transport"},
    {D, SIO_EVENT_DISCONNECT, 0, C, ENDED "; forgotten", "on_close"},
    {O, SIO_EVENT_HOLDER_GONE, 0, D, "detached_at = now, holder none",
     "what it had taken goes back; the new holders are rung"},
    {C, SIO_EVENT_HOLDER_GONE, 0, C, "holder none",
     "what it had taken goes back"},
    {C, SIO_EVENT_FORGET, 0, C, "gone", "nobody"},
    {C, SIO_EVENT_CLEANUP, 0, N, "row and outbox deleted", "nobody"},
};
const size_t sio_session_nrules =
    sizeof(sio_session_rules) / sizeof(sio_session_rules[0]);

#undef H
#undef O
#undef D
#undef C
#undef N

const struct sio_session_rule *
sio_session_next(int state, int transport, enum sio_session_event ev)
{
	const struct sio_session_rule *r;

	for (size_t i = 0; i < sio_session_nrules; i++) {
		r = &sio_session_rules[i];
		if (r->from != state || r->event != ev)
			continue;
		if (r->transports == 0 ||
		    (transport >= 0 && transport < SIO_TRANSPORT_COUNT &&
		     (r->transports & (1u << transport))))
			return r;
	}
	return NULL;
}

unsigned
sio_session_from(enum sio_session_event ev, int next)
{
	unsigned from = 0;

	for (size_t i = 0; i < sio_session_nrules; i++) {
		const struct sio_session_rule *r = &sio_session_rules[i];
		if (r->event == ev && r->next == next && r->from != next &&
		    r->from != SIO_SESSION_NONE)
			from |= 1u << r->from;
	}
	return from;
}

unsigned
sio_session_transports(enum sio_session_event ev)
{
	unsigned t = 0;

	for (size_t i = 0; i < sio_session_nrules; i++)
		if (sio_session_rules[i].event == ev)
			t |= sio_session_rules[i].transports;
	return t;
}

/* --- the table, passed to the store -------------------------------------- */

/* The state ev moves a session to (*to: the next of its rows that change
 * the state), and the states from which ev leads there, that state itself
 * included (an attach to an open session): what the store compares and
 * sets. 0 when ev changes no state. */
static unsigned
session_move(enum sio_session_event ev, int *to)
{
	const struct sio_session_rule *r;
	unsigned from = 0;

	*to = SIO_SESSION_NONE;
	for (size_t i = 0; i < sio_session_nrules && *to == SIO_SESSION_NONE;
	     i++) {
		r = &sio_session_rules[i];
		if (r->event == ev && r->from != r->next &&
		    r->from != SIO_SESSION_NONE && r->next != SIO_SESSION_NONE)
			*to = r->next;
	}
	for (size_t i = 0; i < sio_session_nrules; i++) {
		r = &sio_session_rules[i];
		if (r->event == ev && r->next == *to &&
		    r->from != SIO_SESSION_NONE)
			from |= 1u << r->from;
	}
	return *to == SIO_SESSION_NONE ? 0 : from;
}

int
sio_session_attach(struct sio_store *st, const char *sid, int transport,
                   const char *holder, long long conn, long long now,
                   int *hello)
{
	int to;
	unsigned from = session_move(SIO_EVENT_ATTACH, &to);

	return sio_store_attach(st, sid, transport, holder, conn, now, hello,
	                        from, to);
}

int
sio_session_detach(struct sio_store *st, const char *sid, const char *holder,
                   long long conn, long long now)
{
	int to;
	unsigned from = session_move(SIO_EVENT_DETACH, &to);

	return sio_store_detach(st, sid, holder, conn, now, from, to);
}

int
sio_session_done_detach(struct sio_store *st, const char *sid,
                        const char *holder, long long conn, long long now)
{
	int to;
	unsigned from = session_move(SIO_EVENT_DETACH, &to);

	return sio_store_outbox_done_detach(st, sid, holder, conn, now, from,
	                                    to);
}

int
sio_session_claim_end(struct sio_store *st, const char *sid, const char *reason,
                      long long now)
{
	int to;
	unsigned from = session_move(SIO_EVENT_END, &to);

	return sio_store_session_end(st, sid, reason, now, from, to);
}

int
sio_session_unregister(struct sio_store *st, const char *name, long long now)
{
	int to;
	unsigned from = session_move(SIO_EVENT_HOLDER_GONE, &to);

	return sio_store_process_unregister(st, name, now, from, to);
}

int
sio_session_reap(struct sio_store *st, long long now, long long lease_ms)
{
	int to;
	unsigned from = session_move(SIO_EVENT_HOLDER_GONE, &to);

	return sio_store_reap(st, now, lease_ms, from, to);
}

int
sio_session_heartbeat_due(struct sio_store *st, long long now,
                          long long interval_ms, const char *holder,
                          long long others_late_ms)
{
	int state = SIO_SESSION_OPEN;

	for (size_t i = 0; i < sio_session_nrules; i++)
		if (sio_session_rules[i].event == SIO_EVENT_HEARTBEAT_DUE) {
			state = sio_session_rules[i].from;
			break;
		}
	return sio_store_heartbeat_due(
	    st, now, interval_ms, holder, others_late_ms, state,
	    sio_session_transports(SIO_EVENT_HEARTBEAT_DUE));
}

void
sio_session_expiry(struct sio_store_expiry *e, long long now,
                   long long heartbeat_timeout_ms, long long close_timeout_ms)
{
	memset(e, 0, sizeof(*e));
	for (size_t i = 0; i < sio_session_nrules; i++) {
		const struct sio_session_rule *r = &sio_session_rules[i];
		struct sio_store_timeout *t = &e->t[e->n];
		int hb = r->event == SIO_EVENT_HEARTBEAT_TIMEOUT;

		if ((!hb && r->event != SIO_EVENT_CLOSE_TIMEOUT) ||
		    e->n == SIO_STORE_TIMEOUTS_MAX)
			continue;
		t->state = r->from;
		t->transports = r->transports;
		/* the heartbeat timeout runs from the client's last packet,
		 * the close timeout from when the session was left without a
		 * transport: its handshake if it never had one */
		t->since = hb ? SIO_STORE_SINCE_RECV
		           : r->from == SIO_SESSION_HANDSHAKEN
		               ? SIO_STORE_SINCE_CREATED
		               : SIO_STORE_SINCE_DETACHED;
		t->before =
		    now - (hb ? heartbeat_timeout_ms : close_timeout_ms);
		e->n++;
	}
	e->gone_from = session_move(SIO_EVENT_HOLDER_GONE, &e->gone_to);
}

const char *
sio_session_expiry_reason(int state)
{
	for (size_t i = 0; i < sio_session_nrules; i++) {
		const struct sio_session_rule *r = &sio_session_rules[i];
		if (r->from == state &&
		    (r->event == SIO_EVENT_HEARTBEAT_TIMEOUT ||
		     r->event == SIO_EVENT_CLOSE_TIMEOUT))
			return sio_session_event_name(r->event);
	}
	return "close timeout";
}

const char *
sio_session_state_name(int state)
{
	return state == SIO_SESSION_NONE ? "(none)"
	                                 : sio_store_state_name(state);
}

const char *
sio_session_event_name(enum sio_session_event ev)
{
	static const char *const names[SIO_EVENT_COUNT] = {
	    [SIO_EVENT_HANDSHAKE] = "handshake",
	    [SIO_EVENT_REFUSED] = "handshake refused",
	    [SIO_EVENT_ATTACH] = "attach",
	    [SIO_EVENT_DETACH] = "detach",
	    [SIO_EVENT_SUPERSEDED] = "detach superseded",
	    [SIO_EVENT_PACKET] = "packet in",
	    [SIO_EVENT_HEARTBEAT_DUE] = "heartbeat due",
	    [SIO_EVENT_HEARTBEAT_TIMEOUT] = "heartbeat timeout",
	    [SIO_EVENT_CLOSE_TIMEOUT] = "close timeout",
	    [SIO_EVENT_END] = "end",
	    [SIO_EVENT_DISCONNECT] = "disconnect",
	    [SIO_EVENT_HOLDER_GONE] = "holder gone",
	    [SIO_EVENT_CLEANUP] = "cleanup",
	    [SIO_EVENT_FORGET] = "forget",
	};

	return (unsigned)ev < SIO_EVENT_COUNT ? names[ev] : "?";
}

void
sio_session_rule_format(const struct sio_session_rule *r, char *buf,
                        size_t size)
{
	char on[128] = "";

	for (int t = 0; t < SIO_TRANSPORT_COUNT; t++)
		if (r->transports & (1u << t)) {
			size_t n = strlen(on);
			snprintf(on + n, sizeof(on) - n, "%s%s",
			         n ? ", " : " (", sio_config_transport_name(t));
		}
	if (on[0] != '\0')
		strcat(on, ")");
	snprintf(buf, size, "| %s%s | %s | %s | %s | %s |",
	         sio_session_state_name(r->from), on,
	         sio_session_event_name(r->event),
	         sio_session_state_name(r->next), r->stored, r->told);
}

long long
sio_session_now(void)
{
	return sio_clock_wall_ms();
}

long long
sio_session_mono(void)
{
	return sio_clock_boot_ms();
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

enum run_kind { RUN_RECEIVE, RUN_OPEN, RUN_END, RUN_CLOSE };

/* What a run phase read and recorded, for its apply (see session.h). */
struct sio_session_run {
	enum run_kind kind;
	char sid[SIO_SID_LEN + 1];
	long long now;
	size_t npkts;   /* RUN_RECEIVE: counted as received */
	char *request;  /* RUN_OPEN: the handshake as JSON */
	char *remote;   /* RUN_OPEN: its address, for the admission */
	char *note;     /* the run's note on the packets; NULL: none */
	char *endpoint; /* RUN_CLOSE: the endpoint it disconnects */
	int claimed;    /* the apply claimed the session's end */
	int closing;    /* sio_session_close_run() ran: fx is on_close's */
	int close_rc;   /* and its result */
	int read;       /* RUN_RECEIVE: last_recv was read by the run */
	long long last_recv;
	struct sio_session_run *next; /* x's spares */
	struct sio_effects fx;        /* last: not cleared by run_new() */
};

/* One allocation per run: the effects of a packet or two fit in it; one
 * of x's spares when it keeps some. */
static struct sio_session_run *
run_new(struct sio_session_ctx *x, enum run_kind kind, const char *sid,
        long long now)
{
	struct sio_session_run *r = x->spare;

	if (r != NULL) {
		x->spare = r->next;
		x->nspare--;
	} else if ((r = malloc(sizeof(*r))) == NULL) {
		return NULL;
	}
	memset(r, 0, offsetof(struct sio_session_run, fx));
	r->kind = kind;
	r->now = now;
	sio_buf_copy(r->sid, sizeof(r->sid), sid != NULL ? sid : "");
	sio_effects_init(&r->fx);
	return r;
}

static void
run_free(struct sio_session_ctx *x, struct sio_session_run *r)
{
	if (r == NULL)
		return;
	sio_effects_cleanup(&r->fx);
	free(r->request);
	free(r->remote);
	free(r->note);
	free(r->endpoint);
	if (x->nspare < x->keep_runs) {
		r->next = x->spare;
		x->spare = r;
		x->nspare++;
		return;
	}
	free(r);
}

void
sio_session_ctx_cleanup(struct sio_session_ctx *x)
{
	struct sio_session_run *r;

	while ((r = x->spare) != NULL) {
		x->spare = r->next;
		free(r);
	}
	x->nspare = 0;
}

/* x->err, kept with r for its apply (most runs have nothing to say). */
static void
run_note(struct sio_session_run *r, const struct sio_session_ctx *x)
{
	free(r->note);
	r->note = x->err[0] != '\0' ? strdup(x->err) : NULL;
}

const char *
sio_session_run_sid(const struct sio_session_run *r)
{
	return r->sid;
}

static void
session_note(struct sio_session_ctx *x, const char *fmt, const char *what,
             size_t len)
{
	snprintf(x->err, sizeof(x->err), fmt, (int)(len > 64 ? 64 : len), what);
}

/* Records a bare packet (`1::/ep`, `0::/ep`, `7::/ep:2`, acks) for r. */
static int
session_queue(struct sio_session_ctx *x, struct sio_session_run *r,
              const char *ep, int type, long long id, const char *data,
              size_t len)
{
	struct sio_conn c;
	int rc;

	sio_conn_init(&c, x, &r->fx, r->sid, ep, NULL, r->now);
	rc = sio_conn_queue(&c, type, id, 0, data, len, 0);
	sio_conn_cleanup(&c);
	return rc == SIO_FULL ? SIO_OK : rc; /* over the queue limit: noted */
}

/* Records the end of r's session: the apply claims it. SESSION_ENDED or
 * SIO_ERR. */
static int
session_end_record(struct sio_session_run *r, const char *reason, int forget)
{
	struct sio_effect *e = sio_effects_add(&r->fx, SIO_FX_END, NULL, reason,
	                                       strlen(reason), NULL);

	if (e == NULL)
		return SIO_ERR;
	e->flags = forget ? SIO_FX_FORGET : 0;
	return SESSION_ENDED;
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

/* Runs an endpoint's on_close, in a handle of its own writing to fx;
 * reason: why the session ended, NULL when only ep is disconnected. */
static void
session_on_close(struct sio_session_ctx *x, struct sio_effects *fx,
                 const char *sid, const char *ep, const char *reason,
                 long long now)
{
	const struct sio_app *app = sio_plugin_app(x->plugin, ep);
	struct sio_conn c;

	if (app == NULL || app->on_close == NULL)
		return;
	sio_conn_init(&c, x, fx, sid, ep, app, now);
	c.close_reason = reason;
	app->on_close(&c);
	sio_conn_cleanup(&c);
}

/* Disconnects one endpoint; notify queues `0::/ep` (server-initiated). */
static int
session_endpoint_close(struct sio_session_ctx *x, struct sio_session_run *r,
                       const char *ep, int notify)
{
	session_on_close(x, &r->fx, r->sid, ep, NULL, r->now);
	if (sio_effects_add(&r->fx, SIO_FX_ENDPOINT_DEL, ep, NULL, 0, NULL) ==
	    NULL)
		return SIO_ERR;
	if (notify)
		return session_queue(x, r, ep, SIO_PKT_DISCONNECT, -1, NULL, 0);
	return SIO_OK;
}

/* After a callback: its result and a requested close. */
static int
session_after(struct sio_session_ctx *x, struct sio_session_run *r,
              struct sio_conn *c, int rc)
{
	/* a send over the queue limit: noted, not fatal (SIO_AGAIN as API
	 * version 1 had it) */
	if (rc == SIO_FULL || rc == SIO_AGAIN)
		rc = SIO_OK;
	if (rc == SIO_ERR)
		return session_end_record(r, "application error", 0);
	if (!c->close_requested)
		return SIO_OK;
	if (c->endpoint[0] == '\0')
		return session_end_record(r, "closed by application", 0);
	return session_endpoint_close(x, r, c->endpoint, 1);
}

/* SIO_FULL when the store holds as many live sessions as the
 * configuration allows, overall or from remote; in the handshake's apply,
 * so that handshakes committed together count each other. */
static int
session_admit(struct sio_session_ctx *x, const char *remote)
{
	const struct sio_config *cfg = x->cfg;
	int all, mine;

	if (cfg == NULL)
		return SIO_OK;
	if (sio_store_sessions_live(x->store, remote,
	                            cfg->max_sessions_per_address, &all,
	                            &mine) != SIO_OK)
		return SIO_ERR;
	return all >= cfg->max_sessions || mine >= cfg->max_sessions_per_address
	           ? SIO_FULL
	           : SIO_OK;
}

int
sio_session_open(struct sio_session_ctx *x, const struct sio_request *req,
                 long long now, struct sio_session_run **out)
{
	const struct sio_app *app = sio_plugin_app(x->plugin, "");
	struct sio_session_run *r = run_new(x, RUN_OPEN, NULL, now);
	struct sio_conn c;
	int rc;

	*out = NULL;
	x->err[0] = '\0';
	if (r == NULL)
		return SIO_ERR;
	r->request = sio_request_to_json(req, x->cfg);
	r->remote = strdup(sio_request_remote(req));
	rc = r->request == NULL || r->remote == NULL ||
	             sio_store_sid_new(x->store, r->sid) != SIO_OK
	         ? SIO_ERR
	         : SIO_OK;
	if (rc == SIO_OK && app && app->on_open) {
		sio_conn_init(&c, x, &r->fx, r->sid, "", app, now);
		c.open_req = req;
		c.opening = 1;
		rc = app->on_open(&c, req);
		if (rc == SIO_OK && c.close_requested)
			rc = SIO_REJECT;
		sio_conn_cleanup(&c);
	}
	if (rc != SIO_OK) {
		run_free(x, r);
		if (rc == SIO_FULL || rc == SIO_AGAIN) /* as version 1 had it */
			return SIO_FULL;
		return rc == SIO_REJECT ? rc : SIO_ERR;
	}
	run_note(r, x);
	*out = r;
	return SIO_OK;
}

/* Runs an endpoint's on_open for the connect query (after '?'). */
static int
session_endpoint_open(struct sio_conn *c, const char *query)
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
	return rc;
}

/* Whether ep is connected, as this run left it: 1, 0, SIO_ERR. */
static int
session_endpoint_has(struct sio_session_ctx *x, struct sio_session_run *r,
                     const char *ep)
{
	int rc = sio_effects_endpoint(&r->fx, ep);

	return rc >= 0 ? rc : sio_store_endpoint_has(x->store, r->sid, ep);
}

/* `1::/ep[?query]`: connect, answer `1::/ep`, or `7::/ep:2` when refused
 * (what its on_open recorded is dropped). */
static int
session_connect(struct sio_session_ctx *x, struct sio_session_run *r,
                const struct sio_packet *p)
{
	char ep[SIO_MAX_ENDPOINT + 1], query[SIO_MAX_ENDPOINT + 1];
	const char *q = memchr(p->endpoint, '?', p->endpoint_len);
	size_t eplen = q ? (size_t)(q - p->endpoint) : p->endpoint_len, mark;
	struct sio_conn c;
	int rc, room, queued;

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
	sio_conn_init(&c, x, &r->fx, r->sid, ep, sio_plugin_app(x->plugin, ep),
	              r->now);
	if (c.app == NULL) {
		session_note(x, "unknown endpoint %.*s", ep, eplen);
		rc = session_queue(x, r, ep, SIO_PKT_ERROR, -1, "2", 1);
		goto out;
	}
	rc = session_endpoint_has(x, r, ep);
	if (rc != 0) { /* already connected: answer again, no second on_open */
		if (rc > 0)
			rc = session_queue(x, r, ep, SIO_PKT_CONNECT, -1, NULL,
			                   0);
		goto out;
	}
	mark = r->fx.n;
	room = r->fx.room;
	if (sio_effects_add(&r->fx, SIO_FX_ENDPOINT_ADD, ep, query,
	                    strlen(query), NULL) == NULL ||
	    session_queue(x, r, ep, SIO_PKT_CONNECT, -1, NULL, 0) != SIO_OK) {
		rc = SIO_ERR;
		goto out;
	}
	queued = r->fx.n > mark + 1; /* not when over the queue limit */
	rc = session_endpoint_open(&c, query);
	if (rc == SIO_REJECT) {
		sio_effects_truncate(&r->fx, mark);
		r->fx.room = room;
		rc = session_queue(x, r, ep, SIO_PKT_ERROR, -1, "2", 1);
		goto out;
	}
	if (c.connect_deferred) {
		/* the bridge answers later: the endpoint is connected, and
		 * `1::/ep` sent, when the application accepts (what the client
		 * sends on it meanwhile is dropped, as socket.io 0.9 drops what
		 * comes before a namespace's authorization) */
		if (queued) {
			sio_effects_remove(&r->fx, mark + 1);
			if (r->fx.room >= 0)
				r->fx.room++;
		}
		sio_effects_remove(&r->fx, mark);
	}
	rc = session_after(x, r, &c, rc);
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
	return rc == SIO_FULL ? SIO_OK : rc; /* over the queue limit: noted */
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
session_deliver(struct sio_session_ctx *x, struct sio_session_run *r,
                struct sio_conn *c, const struct sio_packet *p)
{
	json_t *reply, *v;
	int rc = SIO_OK;

	if (p->id >= 0 && !p->data_ack && /* auto-ack first, as socket.io 0.9 */
	    (rc = session_ack_reply(c, p->id, NULL)) != SIO_OK)
		return rc;
	if ((reply = json_array()) == NULL)
		return SIO_ERR;
	c->ack_requested = p->id >= 0 && p->data_ack;
	c->ack_id = p->id;
	c->ack_deferred = 0;
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
	if (rc == SIO_OK && p->id >= 0 && p->data_ack && !c->ack_deferred)
		rc = session_ack_reply(c, p->id, reply);
	json_decref(reply);
	return session_after(x, r, c, rc);
}

/* Runs the ack handler of handler for event with the client's atext. */
static int
session_ack_run(struct sio_session_ctx *x, struct sio_session_run *r,
                struct sio_conn *c, const char *handler, const char *event,
                const char *atext, size_t alen)
{
	const struct sio_ack_handler *h = c->app->acks;
	json_t *args = NULL, *ack_args;
	char *name = NULL;
	int rc = SIO_OK;

	ack_args = atext ? sio_json_parse(atext, alen) : json_array();
	for (; h && h->name; h++)
		if (strcmp(h->name, handler) == 0)
			break;
	if (!json_is_array(ack_args))
		session_note(x, "bad ack arguments: %.*s", atext, alen);
	else if (h == NULL || h->name == NULL)
		session_note(x, "no ack handler '%.*s'", handler,
		             strlen(handler));
	else if (sio_json_event_parse(event, strlen(event), &name, &args) ==
	         SIO_OK)
		rc = session_after(x, r, c, h->fn(c, name, args, ack_args));
	json_decref(ack_args);
	json_decref(args);
	free(name);
	return rc;
}

/* An ack from the client for an event sent with sio_emit_ack(): read now,
 * taken when applied (once: if another process takes it first, what its
 * handler did here is dropped). */
static int
session_ack(struct sio_session_ctx *x, struct sio_session_run *r,
            struct sio_conn *c, const struct sio_packet *p)
{
	char *handler = NULL, *event = NULL;
	struct sio_effect *e;
	const char *atext;
	size_t alen, mark;
	long long id;
	int rc;

	if (sio_packet_ack_parse(p->data ? p->data : "", p->data_len, &id,
	                         &atext, &alen) != SIO_OK) {
		session_note(x, "bad ack: %.*s", p->data, p->data_len);
		return SIO_OK;
	}
	rc = sio_effects_ack_taken(&r->fx, c->endpoint, id)
	         ? SIO_ABSENT
	         : sio_store_ack_get(x->store, r->sid, c->endpoint, id,
	                             &handler, &event);
	if (rc != SIO_OK) {
		if (rc == SIO_ABSENT)
			session_note(x, "ack for no pending event: %.*s",
			             p->data, p->data_len);
		return rc == SIO_ABSENT ? SIO_OK : SIO_ERR;
	}
	mark = r->fx.n;
	e = sio_effects_add(&r->fx, SIO_FX_ACK_TAKE, c->endpoint, NULL, 0,
	                    NULL);
	if (e == NULL)
		rc = SIO_ERR;
	else {
		e->id = id;
		rc = session_ack_run(x, r, c, handler, event, atext, alen);
		r->fx.v[mark].skip = r->fx.n - mark - 1;
	}
	free(handler);
	free(event);
	return rc;
}

static int
session_dispatch(struct sio_session_ctx *x, struct sio_session_run *r,
                 const struct sio_packet *p)
{
	char ep[SIO_MAX_ENDPOINT + 1];
	struct sio_conn c;
	int rc;

	if (p->type == SIO_PKT_CONNECT)
		return session_connect(x, r, p);
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
		return session_end_record(r, "client disconnect", 1);
	rc = session_endpoint_has(x, r, ep);
	if (rc <= 0) {
		if (rc == 0)
			session_note(x,
			             "packet for unconnected endpoint '%.*s'",
			             ep, p->endpoint_len);
		return rc;
	}
	sio_conn_init(&c, x, &r->fx, r->sid, ep, sio_plugin_app(x->plugin, ep),
	              r->now);
	if (p->type == SIO_PKT_DISCONNECT)
		rc = session_endpoint_close(x, r, ep, 0);
	else if (c.app == NULL)
		rc = SIO_OK;
	else if (p->type == SIO_PKT_ACK)
		rc = session_ack(x, r, &c, p);
	else
		rc = session_deliver(x, r, &c, p);
	sio_conn_cleanup(&c);
	return rc;
}

int
sio_session_run(struct sio_session_ctx *x, const char *sid,
                const struct sio_slice *pkts, size_t n, long long now,
                struct sio_session_run **out)
{
	struct sio_session_run *r;
	struct sio_packet p;
	long long last_recv = 0;
	int rc, room, attached;

	*out = NULL;
	x->err[0] = '\0';
	/* one read: whether the session is live, what its queue takes, and
	 * when the client last sent (the apply's touch) */
	rc = sio_store_outbox_room(x->store, sid, &room, &attached, &last_recv);
	if (rc == SIO_ABSENT || rc == SIO_CLOSED)
		return SIO_CLOSED;
	if (rc != SIO_OK)
		return SIO_ERR;
	if ((r = run_new(x, RUN_RECEIVE, sid, now)) == NULL)
		return SIO_ERR;
	r->fx.room = room;
	r->fx.attached = attached;
	r->read = 1;
	r->last_recv = last_recv;
	r->fx.received = (long long)n;
	r->npkts = n;
	rc = SIO_OK;
	for (size_t i = 0; rc == SIO_OK && i < n; i++) {
		if (sio_packet_parse(pkts[i].p, pkts[i].len, &p) < 0) {
			session_note(x, "malformed packet: %.*s", pkts[i].p,
			             pkts[i].len);
			continue;
		}
		rc = session_dispatch(x, r, &p); /* SESSION_ENDED stops */
	}
	if (rc == SIO_ERR) {
		run_free(x, r);
		return SIO_ERR;
	}
	run_note(r, x);
	*out = r;
	return SIO_OK;
}

/*
 * Claims the end a run recorded, in the apply's transaction: `0::` first
 * (see below), then the state; the write lock is held from the state
 * check to the claim, so exactly one claimant runs on_close (after the
 * commit, sio_session_done()).
 */
static int
session_claim(struct sio_session_ctx *x, struct sio_session_run *r, int state,
              const struct sio_effect *end)
{
	struct sio_store *st = x->store;
	int forget = (end->flags & SIO_FX_FORGET) != 0, rc;

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
	if ((!forget || state == SIO_SESSION_OPEN) &&
	    sio_store_outbox_put(st, r->sid, "0::", 3, 0, 0) == SIO_ERR)
		return SIO_ERR; /* a full queue: noted by the store */
	rc = sio_session_claim_end(st, r->sid, end->a, r->now);
	if (rc < 0 ||
	    (forget && sio_store_session_forget(st, r->sid) != SIO_OK))
		return SIO_ERR;
	r->claimed = rc == 1;
	return SIO_OK;
}

/* The apply of r inside the caller's transaction: the session re-checked,
 * its state change, the effects in order, the end claimed. */
static int
session_apply_locked(struct sio_session_ctx *x, struct sio_session_run *r)
{
	struct sio_store *st = x->store;
	const struct sio_effect *end = NULL;
	long long last_recv = 0;
	size_t from = 0;
	int rc, state = SIO_SESSION_HANDSHAKEN;

	/* A run whose first effect is a packet for the session itself (an
	 * echo, an ack's reply) has that put check the session: it refuses
	 * a closed one, and the caller's savepoint undoes the rest. One read
	 * fewer per packet; the touch goes by the last_recv the run read. */
	rc = r->kind == RUN_RECEIVE && r->read
	         ? sio_effects_put_first(&r->fx, st, r->sid, x->err)
	         : SIO_ABSENT;
	if (rc == SIO_CLOSED)
		return SIO_CLOSED;
	if (rc == SIO_OK) {
		from = 1;
		state = SIO_SESSION_OPEN; /* not read: no end to claim */
		last_recv = r->last_recv;
	} else if (rc != SIO_ABSENT) {
		return SIO_ERR;
	}
	if (r->kind == RUN_OPEN) {
		rc = session_admit(x, r->remote);
		if (rc == SIO_OK)
			rc = sio_store_session_add(st, r->sid, r->request,
			                           r->now);
		if (rc == SIO_OK)
			rc = sio_store_counter_add(st, "sessions_opened", 1);
	} else {
		if (from == 0)
			state = rc =
			    sio_store_session_state(st, r->sid, &last_recv);
		else
			rc = state;
		/* refused by the table (closed meanwhile) or absent */
		if (rc == SIO_ABSENT ||
		    (rc >= 0 && sio_session_next(state, -1,
		                                 r->kind == RUN_RECEIVE
		                                     ? SIO_EVENT_PACKET
		                                     : SIO_EVENT_END) == NULL))
			return r->kind == RUN_END ? SIO_OK : SIO_CLOSED;
		if (rc < 0)
			return SIO_ERR;
		/* RUN_CLOSE: its claim removed the endpoint already */
		rc = SIO_OK;
		/* timeouts count in seconds: a busy session is touched once
		 * in SIO_TOUCH_MS, not for every packet */
		if (r->kind == RUN_RECEIVE &&
		    r->now - last_recv >= SIO_TOUCH_MS)
			rc = sio_store_touch(st, r->sid, r->now);
		if (rc == SIO_OK && r->kind == RUN_RECEIVE)
			rc = sio_store_counter_add(st, "packets_received",
			                           (long long)r->npkts);
	}
	if (rc == SIO_OK)
		rc = sio_effects_apply(&r->fx, from, st, r->sid, 0, &end,
		                       x->err);
	if (rc == SIO_OK && end != NULL)
		rc = session_claim(x, r, state, end);
	return rc;
}

/* The apply of r in a transaction (own) or a savepoint of the caller's:
 * as sio_session_apply(), once. */
static int
session_apply_once(struct sio_session_ctx *x, struct sio_session_run *r,
                   int own)
{
	struct sio_store *st = x->store;
	int rc;

	x->err[0] = '\0';
	if (r->note != NULL)
		sio_err(x->err, "%s", r->note);
	r->claimed = 0;
	if ((own ? sio_store_begin(st) : sio_store_savepoint(st)) != SIO_OK)
		return SIO_ERR;
	rc = session_apply_locked(x, r);
	if (rc != SIO_OK) {
		if (own)
			sio_store_rollback(st);
		else if (sio_store_in_transaction(st))
			sio_store_rollback_to(st);
		r->claimed = 0;
		return rc == SIO_CLOSED || rc == SIO_FULL ? rc : SIO_ERR;
	}
	rc = own ? sio_store_commit(st) : sio_store_release(st);
	if (rc != SIO_OK)
		r->claimed = 0;
	return rc;
}

/* How many times an apply that the database failed as a deadlock's
 * victim or for serialization is tried in all. */
#define SESSION_APPLY_TRIES 3

int
sio_session_apply(struct sio_session_ctx *x, struct sio_session_run *r)
{
	/* inside the caller's transaction (a batch of sessions): a
	 * savepoint, so that this session's failure undoes only its part */
	int own = !sio_store_in_transaction(x->store), rc, n = 0;

	/* the application's code ran before (the run phase): only the
	 * store's work is done again */
	do
		rc = session_apply_once(x, r, own);
	while (rc == SIO_ERR && sio_store_retryable(x->store) &&
	       ++n < SESSION_APPLY_TRIES &&
	       (own || sio_store_in_transaction(x->store)));
	return rc;
}

/*
 * The second half of an end this process claimed: on_close for each
 * endpoint, then the root, outside any transaction (the session's data
 * and endpoints are still there to read), recorded in fx
 * (session_close_run()); then, in a transaction, what they broadcast
 * (sends to the session itself are dropped: it is closed) and the purge
 * (session_close_apply(), rc the first half's). Returns 1 or SIO_ERR.
 */
static int
session_close_run(struct sio_session_ctx *x, const char *sid,
                  const char *reason, long long now, struct sio_effects *fx)
{
	struct ep_list l = {0};
	int rc;

	rc = sio_store_endpoint_list(x->store, sid, ep_collect, &l) < 0 ||
	             l.failed
	         ? SIO_ERR
	         : SIO_OK;
	for (size_t i = 0; i < l.n; i++)
		session_on_close(x, fx, sid, l.names[i], reason, now);
	ep_list_free(&l);
	return rc;
}

static int
session_close_apply(struct sio_session_ctx *x, const char *sid,
                    struct sio_effects *fx, int rc)
{
	struct sio_store *st = x->store;
	const struct sio_effect *end;
	long long last_recv;
	int own = !sio_store_in_transaction(st);

	if ((own ? sio_store_begin(st) : sio_store_savepoint(st)) != SIO_OK)
		return SIO_ERR;
	/* closed, as the claim left it (a batch whose transaction was lost
	 * undid the claim: nothing to purge) */
	if (sio_store_session_state(st, sid, &last_recv) != SIO_SESSION_CLOSED)
		rc = SIO_ERR;
	else if (sio_effects_apply(fx, 0, st, sid, 1, &end, x->err) != SIO_OK ||
	         sio_store_session_purge(st, sid) != SIO_OK)
		rc = SIO_ERR;
	if (rc != SIO_OK && own)
		sio_store_rollback(st);
	else if (rc != SIO_OK)
		sio_store_rollback_to(st);
	else if ((own ? sio_store_commit(st) : sio_store_release(st)) != SIO_OK)
		rc = SIO_ERR;
	return rc == SIO_OK ? 1 : SIO_ERR;
}

static int
session_close(struct sio_session_ctx *x, const char *sid, const char *reason,
              long long now)
{
	struct sio_effects fx;
	int rc;

	sio_effects_init(&fx);
	rc = session_close_run(x, sid, reason, now, &fx);
	rc = session_close_apply(x, sid, &fx, rc);
	sio_effects_cleanup(&fx);
	return rc;
}

/* The reason of the end r recorded. */
static const char *
run_end_reason(const struct sio_session_run *r)
{
	for (size_t i = 0; i < r->fx.n; i++)
		if (r->fx.v[i].kind == SIO_FX_END)
			return r->fx.v[i].a;
	return "ended";
}

int
sio_session_close_run(struct sio_session_ctx *x, struct sio_session_run *r,
                      int committed)
{
	char *reason;

	if (r == NULL || !r->claimed || !committed || r->closing)
		return 0;
	if ((reason = strdup(run_end_reason(r))) == NULL)
		return SIO_ERR; /* sio_session_done() does it all */
	/* the run's effects were applied: fx takes on_close's */
	sio_effects_cleanup(&r->fx);
	sio_effects_init(&r->fx);
	r->close_rc = session_close_run(x, r->sid, reason, r->now, &r->fx);
	r->closing = 1;
	free(reason);
	return 1;
}

int
sio_session_done(struct sio_session_ctx *x, struct sio_session_run *r,
                 int committed)
{
	int rc = 0;

	if (r == NULL)
		return 0;
	if (r->closing)
		rc = session_close_apply(x, r->sid, &r->fx, r->close_rc);
	else if (r->claimed && committed)
		rc = session_close(x, r->sid, run_end_reason(r), r->now);
	run_free(x, r);
	return rc;
}

int
sio_session_ending(const struct sio_session_run *r)
{
	return r != NULL && r->claimed;
}

int
sio_session_handshake(struct sio_session_ctx *x, const struct sio_request *req,
                      long long now, char sid[SIO_SID_LEN + 1])
{
	struct sio_session_run *r;
	int rc = sio_session_open(x, req, now, &r);

	if (rc != SIO_OK)
		return rc;
	rc = sio_session_apply(x, r);
	if (rc == SIO_OK)
		memcpy(sid, r->sid, SIO_SID_LEN + 1);
	sio_session_done(x, r, 0);
	return rc;
}

int
sio_session_receive(struct sio_session_ctx *x, const char *sid,
                    const struct sio_slice *pkts, size_t n, long long now)
{
	struct sio_session_run *r;
	int rc = sio_session_run(x, sid, pkts, n, now, &r);

	if (rc != SIO_OK)
		return rc;
	rc = sio_session_apply(x, r);
	if (sio_session_done(x, r, rc == SIO_OK) < 0 && rc == SIO_OK)
		rc = SIO_ERR;
	return rc;
}

/* sio_session_end(), sio_session_disconnect() and the timeouts: the claim
 * in a short transaction, then on_close and the rest (session_close()). */
static int
session_end_tx(struct sio_session_ctx *x, const char *sid, const char *reason,
               int forget, long long now)
{
	struct sio_session_run *r = run_new(x, RUN_END, sid, now);
	int rc;

	if (r == NULL ||
	    session_end_record(r, reason, forget) != SESSION_ENDED ||
	    sio_store_begin(x->store) != SIO_OK) {
		run_free(x, r);
		return SIO_ERR;
	}
	if (session_apply_locked(x, r) != SIO_OK) {
		sio_store_rollback(x->store);
		run_free(x, r);
		return SIO_ERR;
	}
	rc = sio_store_commit(x->store);
	if (rc != SIO_OK) {
		run_free(x, r);
		return SIO_ERR;
	}
	return sio_session_done(x, r, 1);
}

int
sio_session_end(struct sio_session_ctx *x, const char *sid, const char *reason,
                long long now)
{
	return session_end_tx(x, sid, reason, 0, now);
}

/* The claim of sio_session_close_endpoint(): in one transaction, the
 * session live and ep connected, then ep's row removed, so that no other
 * caller (nor the session's end) runs ep's on_close again. 1 when this
 * call removed it, 0 when ep was not connected, SIO_CLOSED, SIO_ERR. */
static int
session_endpoint_claim(struct sio_session_ctx *x, const char *sid,
                       const char *ep)
{
	struct sio_store *st = x->store;
	long long last_recv;
	int rc;

	if (sio_store_begin(st) != SIO_OK)
		return SIO_ERR;
	rc = sio_store_session_state(st, sid, &last_recv);
	if (rc == SIO_ABSENT ||
	    (rc >= 0 && sio_session_next(rc, -1, SIO_EVENT_END) == NULL))
		rc = SIO_CLOSED;
	else if (rc >= 0)
		rc = sio_store_endpoint_has(st, sid, ep);
	if (rc == 1 && sio_store_endpoint_del(st, sid, ep) != SIO_OK)
		rc = SIO_ERR;
	if (rc != 1) {
		sio_store_rollback(st);
		return rc;
	}
	return sio_store_commit(st) == SIO_OK ? 1 : SIO_ERR;
}

int
sio_session_close_endpoint(struct sio_session_ctx *x, const char *sid,
                           const char *ep, long long now)
{
	struct sio_session_run *r;
	int rc = session_endpoint_claim(x, sid, ep);

	if (rc != 1)
		return rc;
	/* ep's rooms are still there for on_close to read; the apply
	 * removes them with `0::/ep` after what on_close queued */
	r = run_new(x, RUN_CLOSE, sid, now);
	if (r == NULL || (r->endpoint = strdup(ep)) == NULL) {
		run_free(x, r);
		return SIO_ERR;
	}
	x->err[0] = '\0';
	if (session_endpoint_close(x, r, ep, 1) != SIO_OK) {
		run_free(x, r);
		return SIO_ERR;
	}
	run_note(r, x);
	rc = sio_session_apply(x, r);
	sio_session_done(x, r, rc == SIO_OK);
	/* ended meanwhile: its end found ep gone, and ran no on_close */
	return rc == SIO_OK || rc == SIO_CLOSED ? 1 : SIO_ERR;
}

int
sio_session_disconnect(struct sio_session_ctx *x, const char *sid,
                       long long now)
{
	return session_end_tx(x, sid, "forced disconnect", 1, now);
}

/* Ends the n sessions of sids (states: why), each in a transaction of
 * its own, on_close and the rest after its commit: how many it ended, or
 * SIO_ERR. */
static int
session_end_expired(struct sio_session_ctx *x, char (*sids)[SIO_SID_LEN + 1],
                    const int *states, int n, long long now)
{
	int ended = 0;

	for (int i = 0; i < n; i++) {
		/* as socket.io 0.9: the client, if it comes back, is told
		 * to reconnect */
		int rc = session_end_tx(
		    x, sids[i], sio_session_expiry_reason(states[i]), 1, now);
		if (rc < 0)
			return SIO_ERR;
		ended += rc;
	}
	return ended;
}

/* The part of a sweep that runs no application code, in the caller's
 * transaction: processes that died, long-closed sessions forgotten, then
 * the first SESSION_EXPIRE_PAGE sessions past their heartbeat or close
 * timeout (e) into sids and states. Their number, or SIO_ERR. */
#define SESSION_EXPIRE_PAGE 64
static int
session_expire_find(struct sio_session_ctx *x, long long now,
                    struct sio_store_expiry *e, char (*sids)[SIO_SID_LEN + 1],
                    int *states)
{
	const struct sio_config *cfg = x->cfg;

	if (sio_session_reap(x->store, now, cfg->process_lease * 1000LL) < 0 ||
	    sio_store_cleanup(x->store, now - cfg->close_timeout * 1000LL) < 0)
		return SIO_ERR;
	sio_session_expiry(e, now, cfg->heartbeat_timeout * 1000LL,
	                   cfg->close_timeout * 1000LL);
	return sio_store_expired(x->store, now, e, sids, states,
	                         SESSION_EXPIRE_PAGE);
}

/* Ends the sessions found (n of sids, states), then those past their
 * timeouts (e) beyond the first page, a page a transaction. */
static int
session_expire_rest(struct sio_session_ctx *x, long long now,
                    const struct sio_store_expiry *e,
                    char (*sids)[SIO_SID_LEN + 1], int *states, int n)
{
	int ended = 0, rc;

	for (;;) {
		rc = session_end_expired(x, sids, states, n, now);
		if (rc < 0)
			return SIO_ERR;
		ended += rc;
		if (n < SESSION_EXPIRE_PAGE)
			return ended;
		n = sio_store_expired(x->store, now, e, sids, states,
		                      SESSION_EXPIRE_PAGE);
		if (n < 0)
			return SIO_ERR;
	}
}

/* Ends the sessions past their heartbeat or close timeout (those of
 * processes that died included) and forgets long-closed ones. */
static int
session_expire(struct sio_session_ctx *x, long long now)
{
	char sids[SESSION_EXPIRE_PAGE][SIO_SID_LEN + 1];
	struct sio_store_expiry e;
	int states[SESSION_EXPIRE_PAGE];
	int n = session_expire_find(x, now, &e, sids, states);

	return n < 0 ? SIO_ERR
	             : session_expire_rest(x, now, &e, sids, states, n);
}

int
sio_session_sweep(struct sio_session_ctx *x, long long now)
{
	if (sio_store_stats_sample(x->store, now) < 0 ||
	    session_clock(x, now) < 0 ||
	    sio_session_heartbeat_due(x->store, now,
	                              x->cfg->heartbeat_interval * 1000LL, NULL,
	                              0) < 0)
		return SIO_ERR;
	return session_expire(x, now);
}

int
sio_session_timers(struct sio_session_ctx *x, const char *holder, long long now)
{
	struct sio_store *st = x->store;
	char sids[SESSION_EXPIRE_PAGE][SIO_SID_LEN + 1];
	struct sio_store_expiry e;
	int states[SESSION_EXPIRE_PAGE], n = 0, sweeper, rc;

	if (sio_store_begin(st) != SIO_OK)
		return SIO_ERR;
	rc = holder != NULL ? sio_store_process_renew(st, holder, now) : SIO_OK;
	if (rc != SIO_OK) { /* SIO_ABSENT: reaped, the caller fences */
		sio_store_rollback(st);
		return rc;
	}
	sweeper = sio_store_stats_sample(st, now);
	/* a process that holds nothing (a CGI request) has no heartbeats
	 * of its own: it sweeps when it takes the second's sample, or not */
	if (sweeper < 0 || (sweeper > 0 && session_clock(x, now) < 0) ||
	    ((sweeper > 0 || holder != NULL) &&
	     sio_session_heartbeat_due(
	         st, now, x->cfg->heartbeat_interval * 1000LL, holder,
	         sweeper ? SIO_HB_LATE_MS : -1) < 0) ||
	    (sweeper > 0 &&
	     (n = session_expire_find(x, now, &e, sids, states)) < 0) ||
	    sio_store_counters_flush(st, now) != SIO_OK) {
		sio_store_rollback(st);
		return SIO_ERR;
	}
	if (sio_store_commit(st) != SIO_OK)
		return SIO_ERR;
	return sweeper > 0 ? session_expire_rest(x, now, &e, sids, states, n)
	                   : 0;
}
