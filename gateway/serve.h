/*
 * serve.h: what the files that answer a request of sio-gateway share
 * (serve.c, respond.c, outbox.c, poll.c, stream.c, post.c, handshake.c,
 * stats.c, publish.c): the request being answered, the batch of a response, the
 * writes of the outbox, and the functions each file lends the others.
 * Private to the gateway; the rest of it sees gateway.h.
 */
#ifndef GW_SERVE_H
#define GW_SERVE_H

#include "deliver.h"
#include "gateway.h"
#include "text.h"

#define SERVE_PLAIN "text/plain; charset=UTF-8"
#define SERVE_JS "text/javascript; charset=UTF-8"

/* Results besides siogate.h's codes (and gateway.h's), apart from them. */
enum serve_result {
	SERVE_ANSWERED = -100, /* serve_poll_wait(): a POST answered the poll */
	SERVE_LATE = -101,     /* serve_body(): missed body_timeout */
};

/* What one request is being answered with. */
struct serve {
	struct gw_req *r;
	struct sio_session_ctx *x;
	struct gw_route rt;
	const char *origin; /* Origin; echoed in CORS headers when allowed */
	const char *allow;  /* the Allow header of a 405, NULL for none */
	char jsonp[SIO_TEXT_JSONP_INDEX_MAX + 1]; /* "" when not jsonp */
	int parked; /* holds a waiting place (serve_park()) */
};

/* The packets of one response, gathered by serve_collect(). */
struct batch {
	struct sio_buf data;
	struct sio_slice *pkts; /* p is an offset into data until encoded */
	size_t n, cap, max, bytes, max_bytes;
};

/* The writes of a poll or stream (write.c): its attach (with a take when
 * bt is set) and a take, of its delivery d. */
struct poll_write {
	struct gw_write w; /* first: the write.c part */
	struct serve *s;
	struct sio_deliver *d;
	struct batch *bt;    /* attach, take */
	struct sio_buf *out; /* idem */
	long long now;
	long long due; /* attach: set when want_due (-1: none) */
	int want_due;  /* attach: the next delayed packet's due */
	int n;         /* packets taken */
	int fenced;    /* attach: refused, this process was reaped */
};

/* The end of what one request did with a session (struct finish_write):
 * a copy of its delivery, which says what it took. */
struct finish {
	struct sio_deliver d;
	int taken, written, detach;
};

/*
 * What requests that are over did with sessions, as one posted write: what
 * (holder, conn) took is deleted (written) or handed back (not), and with
 * detach the session loses its transport. No thread waits for it: the
 * responses are out, and until it runs the packets stay taken, so that
 * nobody sends them again.
 */
struct finish_write {
	struct gw_write w; /* first: the write.c part */
	long long now;
	size_t n;
	struct finish v[];
};

/* --- respond.c --- */

int serve_head(struct serve *s, int status, const char *ctype, long long clen);
int serve_respond(struct serve *s, int status, const char *ctype,
                  const char *body, size_t len);
int serve_text(struct serve *s, int status, const char *text);
int serve_payload(struct serve *s, const char *payload, size_t len);
int serve_body(struct serve *s, struct sio_buf *b, size_t max);
void serve_body_refused(struct serve *s, int rc, int json);
/* Answers {"error": why} with status (application/json). */
int serve_json_error(struct serve *s, int status, const char *why);

/* --- outbox.c --- */

void batch_init(struct batch *bt, const struct sio_config *cfg);
void batch_cleanup(struct batch *bt);
int serve_collect(struct sio_store *st, struct sio_deliver *d, struct batch *bt,
                  long long now, struct sio_buf *out);
void serve_store_error(const char *sid, struct sio_session_ctx *wx,
                       const char *what);
int poll_attach(struct sio_session_ctx *wx, struct gw_write *w);
/* Runs p (poll_attach) as a write; when this process was found reaped,
 * renews (it fences: a new name), then runs it again under the new name.
 * gw_write_run()'s result. */
int serve_attach(struct serve *s, struct poll_write *p);
int serve_take(struct serve *s, struct sio_deliver *d, struct batch *bt,
               long long now, struct sio_buf *out);
struct finish_write *finish_new(size_t n);
void serve_finish(struct serve *s, const struct sio_deliver *d, int taken,
                  int written, int detach);
void serve_delivered(struct serve *s, struct sio_deliver *d, int written);
int serve_ready(struct serve *s, struct sio_deliver *d, long long now);
long long serve_due(struct serve *s, struct sio_deliver *d, long long now);
long long serve_timeout(long long now, long long deadline, long long due);

/* --- poll.c --- */

int serve_drain(struct serve *s);
int serve_sleep(struct serve *s, struct gw_waiter *w, long long timeout_ms);
void serve_poll_get(struct serve *s, struct batch *bt);

/* --- stream.c --- */

void serve_htmlfile(struct serve *s, struct batch *bt);

/* --- post.c --- */

void serve_post(struct serve *s);

/* --- handshake.c --- */

void serve_handshake(struct serve *s);

/* --- stats.c --- */

void serve_stats(struct serve *s, const char *method, int metrics);

/* --- publish.c --- */

void serve_publish(struct serve *s, const char *method);

/* --- serve.c --- */

int serve_store(struct serve *s);
void serve_store_drop(struct serve *s);
int serve_park(struct serve *s);
void serve_unpark(struct serve *s);

#endif
