/*
 * store.c: the backend-independent front of the store (store.h). It keeps
 * what every backend shares: transaction ownership and savepoint depth,
 * the doorbells a transaction collects and rings once its commit has
 * succeeded, the direct path (sio_store_set_direct), the bridge hook, the
 * hot counters kept in memory, the error message, session ids and process
 * names; and reaches the database through the operations of store_ops.h,
 * which the SQLite backend (common/sqlite/) fills.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "doorbell.h"
#include "payload.h"
#include "perm.h"
#include "result.h"
#include "store_ops.h"

/* The words of the schema's CHECK constraints, indexed by enum. */
static const char *const store_states[] = {"handshaken", "open", "detached",
                                           "closed"};
static const char *const store_transports[] = {
    "websocket", "flashsocket", "htmlfile", "xhr-polling", "jsonp-polling"};
static const char *const store_later_names[SIO_STORE_LATER_N] = {
    "packets_received", "packets_sent"};

/* --- for backends ------------------------------------------------------ */

int
sio_store_fail(struct sio_store *st, const char *fmt, ...)
{
	va_list ap;

	if (st == NULL) /* sio_store_sid_new() without a store */
		return SIO_ERR;
	st->retryable = 0;
	va_start(ap, fmt);
	sio_verr(st->errmsg, fmt, ap);
	va_end(ap);
	return SIO_ERR;
}

long long
sio_store_now(void)
{
	return sio_clock_wall_ms();
}

const char *
sio_store_state_name(enum sio_session_state state)
{
	assert((unsigned)state <= SIO_SESSION_CLOSED);
	return store_states[state];
}

const char *
sio_store_transport_name(int transport)
{
	assert(transport >= 0 && transport < SIO_TRANSPORT_COUNT);
	return store_transports[transport];
}

static int
store_parse(const char *const *names, int n, const char *word)
{
	for (int i = 0; word != NULL && i < n; i++)
		if (strcmp(names[i], word) == 0)
			return i;
	return -1;
}

int
sio_store_state_parse(const char *word)
{
	return store_parse(store_states, 4, word);
}

int
sio_store_transport_parse(const char *word)
{
	return store_parse(store_transports, SIO_TRANSPORT_COUNT, word);
}

const char *
sio_store_words(unsigned mask, int transports, char buf[SIO_STORE_WORDS_LEN])
{
	int n = transports ? SIO_TRANSPORT_COUNT : SIO_SESSION_CLOSED + 1;
	size_t len = 1;

	strcpy(buf, ",");
	for (int i = 0; i < n; i++) {
		const char *w = transports ? sio_store_transport_name(i)
		                           : sio_store_state_name(i);
		if ((mask & (1u << i)) &&
		    len + strlen(w) + 1 < SIO_STORE_WORDS_LEN)
			len += (size_t)snprintf(
			    buf + len, SIO_STORE_WORDS_LEN - len, "%s,", w);
	}
	return len > 1 ? buf : NULL;
}

int
sio_store_packet_ok(const char *pkt, size_t len)
{
	return pkt != NULL && len > 0 && sio_payload_utf16_len(pkt, len) >= 0;
}

void
sio_store_bell(struct sio_store *st, const char *holder, const char *sid)
{
	struct sio_store_bell *b;
	size_t cap;

	if (st->run_dir == NULL || holder == NULL ||
	    strlen(holder) >= SIO_HOLDER_LEN || strlen(sid) > SIO_SID_LEN)
		return;
	if (st->nbells == st->capbells) {
		cap = st->capbells ? st->capbells * 2 : 16;
		b = realloc(st->bells, cap * sizeof(*b));
		if (b == NULL)
			return; /* a ring is a hint; tick covers it */
		st->bells = b;
		st->capbells = cap;
	}
	b = &st->bells[st->nbells++];
	strcpy(b->holder, holder);
	strcpy(b->sid, sid);
}

static int
store_bell_cmp(const void *a, const void *b)
{
	const struct sio_store_bell *x = a, *y = b;
	int c = strcmp(x->holder, y->holder);

	return c ? c : strcmp(x->sid, y->sid);
}

/* The sids of one holder of another host, to ring through the database
 * in one notification, space-separated; more than fit, SIO_DOORBELL_ALL
 * (the holder looks at all its sessions). */
struct store_far {
	char sids[SIO_STORE_NOTIFY_MAX];
	size_t len;
};

/* Rings holder with what far holds, when the backend can, and empties
 * it. */
static void
store_far_send(struct sio_store *st, struct store_far *f, const char *holder)
{
	if (f->len > 0 && st->ops->notify != NULL) {
		f->sids[f->len] = '\0';
		(void)st->ops->notify(st, holder, f->sids);
	}
	f->len = 0;
}

static void
store_far_add(struct store_far *f, const char *sid)
{
	size_t n = strlen(sid);

	if (strcmp(f->sids, SIO_DOORBELL_ALL) == 0 && f->len > 0)
		return;
	if (f->len + 1 + n >= sizeof(f->sids)) {
		strcpy(f->sids, SIO_DOORBELL_ALL);
		f->len = strlen(SIO_DOORBELL_ALL);
		return;
	}
	if (f->len > 0)
		f->sids[f->len++] = ' ';
	memcpy(f->sids + f->len, sid, n);
	f->len += n;
	f->sids[f->len] = '\0';
}

/* Rings b's holder about b's sid: through its doorbell on this host, or
 * (none here) into far, for the database; b's sid "": the holder was
 * reaped, its doorbell file goes. */
static void
store_ring_one(struct sio_store *st, struct store_far *far,
               const struct sio_store_bell *b)
{
	if (b->sid[0] == '\0')
		(void)sio_doorbell_remove(st->run_dir, b->holder);
	else if (st->bell_fd < 0 ||
	         sio_doorbell_ring(st->bell_fd, st->run_dir, b->holder,
	                           b->sid) == SIO_ABSENT)
		store_far_add(far, b->sid);
}

/* Rings each distinct (holder, sid) once: a holder of another host once
 * for all its sids. Failures are ignored because the holder also ticks. */
static void
store_ring(struct sio_store *st)
{
	struct sio_store_bell *b = st->bells;
	struct store_far far = {.sids = "", .len = 0};
	size_t i;

	if (st->nbells > 0 && st->bell_fd < 0)
		st->bell_fd = sio_doorbell_sender();
	if (st->nbells > 1)
		qsort(b, st->nbells, sizeof(*b), store_bell_cmp);
	for (i = 0; i < st->nbells; i++) {
		if (i == 0 || store_bell_cmp(&b[i - 1], &b[i]) != 0)
			store_ring_one(st, &far, &b[i]);
		if (i + 1 == st->nbells ||
		    strcmp(b[i].holder, b[i + 1].holder) != 0)
			store_far_send(st, &far, b[i].holder);
	}
	st->nbells = 0;
}

/* Forgets the direct packets and bridge puts queued at savepoint depth
 * and deeper. */
static void
store_direct_drop(struct sio_store *st, int depth)
{
	while (st->ndirects > 0 && st->directs[st->ndirects - 1].depth >= depth)
		free(st->directs[--st->ndirects].pkt);
}

/*
 * After a commit, the write lock released: hands the direct packets over
 * in the order queued, rings the doorbells, then calls the bridge hook
 * for each bridge put in its order. The list is detached first, since a
 * hook may open the next transaction on st (which starts a list of its
 * own); its array is kept for reuse when none did.
 */
static void
store_handover(struct sio_store *st)
{
	struct sio_store_direct *d = st->directs;
	size_t i, n = st->ndirects, cap = st->capdirects;

	st->directs = NULL;
	st->ndirects = st->capdirects = 0;
	for (i = 0; i < n; i++) {
		if (d[i].pkt == NULL)
			continue;
		st->direct_deliver(st->direct_udata, d[i].sid, d[i].conn,
		                   d[i].pkt, d[i].len);
		st->later[SIO_STORE_LATER_SENT]++;
	}
	store_ring(st);
	for (i = 0; i < n; i++)
		if (d[i].pkt == NULL && st->bridge_hook != NULL)
			st->bridge_hook(st->bridge_udata, d[i].sid);
	for (i = 0; i < n; i++)
		free(d[i].pkt);
	if (st->directs == NULL) {
		st->directs = d;
		st->capdirects = cap;
	} else {
		free(d);
	}
}

/* Rolls back keeping the error message of what made us roll back. */
static void
store_rollback_quiet(struct sio_store *st)
{
	char keep[SIO_ERR_LEN];

	st->nbells = 0;
	store_direct_drop(st, 0);
	memcpy(keep, st->errmsg, sizeof(keep));
	(void)st->ops->rollback(st);
	memcpy(st->errmsg, keep, sizeof(keep));
}

/* --- transactions -------------------------------------------------------- */

int
sio_store_begin(struct sio_store *st)
{
	if (st->ops->in_transaction(st))
		return sio_store_fail(st, "a transaction is already open");
	st->nbells = 0;
	st->depth = 0;
	store_direct_drop(st, 0);
	return st->ops->begin(st);
}

int
sio_store_read_begin(struct sio_store *st)
{
	return st->ops->read_begin(st);
}

void
sio_store_read_end(struct sio_store *st)
{
	st->ops->read_end(st);
}

int
sio_store_read_upgrade(struct sio_store *st)
{
	if (st->ops->read_upgrade != NULL && st->ops->in_transaction(st)) {
		st->nbells = 0;
		st->depth = 0;
		store_direct_drop(st, 0);
		if (st->ops->read_upgrade(st) == SIO_OK)
			return SIO_OK;
	}
	if (st->ops->in_transaction(st))
		st->ops->read_end(st);
	return sio_store_begin(st);
}

int
sio_store_in_transaction(struct sio_store *st)
{
	return st->ops->in_transaction(st);
}

void
sio_store_bells_take(struct sio_store *st, const char *holder,
                     void (*fn)(void *udata, const char *sid), void *udata)
{
	size_t i, n = 0;

	for (i = 0; i < st->nbells; i++) {
		if (strcmp(st->bells[i].holder, holder) == 0 &&
		    st->bells[i].sid[0] != '\0')
			fn(udata, st->bells[i].sid);
		else
			st->bells[n++] = st->bells[i];
	}
	st->nbells = n;
}

int
sio_store_commit(struct sio_store *st)
{
	if (!st->ops->in_transaction(st)) {
		st->nbells = 0;
		store_direct_drop(st, 0);
		return sio_store_fail(st, "no transaction is open");
	}
	if (st->ops->commit(st) != SIO_OK) {
		store_rollback_quiet(st);
		return SIO_ERR;
	}
	store_handover(st);
	return SIO_OK;
}

int
sio_store_rollback(struct sio_store *st)
{
	st->nbells = 0;
	store_direct_drop(st, 0);
	return st->ops->rollback(st);
}

int
sio_store_retryable(struct sio_store *st)
{
	return st->retryable;
}

int
sio_store_savepoint(struct sio_store *st)
{
	if (!st->ops->in_transaction(st))
		return sio_store_fail(st, "no transaction is open");
	if (st->ops->savepoint(st) != SIO_OK)
		return SIO_ERR;
	st->depth++;
	return SIO_OK;
}

int
sio_store_rollback_to(struct sio_store *st)
{
	store_direct_drop(st, st->depth);
	if (st->depth > 0)
		st->depth--;
	if (!st->ops->in_transaction(st))
		return sio_store_fail(st, "no transaction is open");
	return st->ops->rollback_to(st);
}

int
sio_store_release(struct sio_store *st)
{
	size_t i;

	/* what the savepoint queued now belongs to the level around it */
	for (i = st->ndirects; i > 0 && st->directs[i - 1].depth >= st->depth;
	     i--)
		st->directs[i - 1].depth = st->depth - 1;
	if (st->depth > 0)
		st->depth--;
	if (!st->ops->in_transaction(st))
		return sio_store_fail(st, "no transaction is open");
	return st->ops->release(st);
}

int
sio_store_tx_begin(struct sio_store *st, int *own)
{
	*own = !st->ops->in_transaction(st);
	return *own ? sio_store_begin(st) : SIO_OK;
}

int
sio_store_tx_end(struct sio_store *st, int own, int rc)
{
	if (!own)
		return rc;
	if (rc == SIO_ERR) {
		store_rollback_quiet(st);
		return SIO_ERR;
	}
	return sio_store_commit(st) == SIO_OK ? rc : SIO_ERR;
}

/* --- the direct path ------------------------------------------------------ */

void
sio_store_set_direct(struct sio_store *st, const char *holder,
                     int (*accept)(void *udata, const char *sid, long long conn,
                                   unsigned staged),
                     void (*deliver)(void *udata, const char *sid,
                                     long long conn, const char *pkt,
                                     size_t len),
                     void *udata)
{
	snprintf(st->direct_holder, sizeof(st->direct_holder), "%s", holder);
	st->direct_accept = accept;
	st->direct_deliver = deliver;
	st->direct_udata = udata;
}

/* How many packets for sid wait for the commit. */
static unsigned
store_direct_staged(const struct sio_store *st, const char *sid)
{
	for (size_t i = st->ndirects; i > 0; i--)
		if (st->directs[i - 1].pkt != NULL &&
		    strcmp(st->directs[i - 1].sid, sid) == 0)
			return st->directs[i - 1].n;
	return 0;
}

/* A new entry at the end of the commit's list, for sid at this savepoint
 * depth; NULL when out of memory. */
static struct sio_store_direct *
store_direct_new(struct sio_store *st, const char *sid)
{
	struct sio_store_direct *d;
	size_t cap;

	if (st->ndirects == st->capdirects) {
		cap = st->capdirects ? st->capdirects * 2 : 16;
		d = realloc(st->directs, cap * sizeof(*d));
		if (d == NULL)
			return NULL;
		st->directs = d;
		st->capdirects = cap;
	}
	d = &st->directs[st->ndirects];
	memset(d, 0, sizeof(*d));
	d->depth = st->depth;
	sio_buf_copy(d->sid, sizeof(d->sid), sid);
	return d;
}

/* Queues pkt for delivery at the commit. SIO_OK or SIO_ERR. */
static int
store_direct_add(struct sio_store *st, const char *sid, long long conn,
                 const char *pkt, size_t len)
{
	struct sio_store_direct *d = store_direct_new(st, sid);

	if (d == NULL || (d->pkt = malloc(len ? len : 1)) == NULL)
		return sio_store_fail(st, "out of memory");
	memcpy(d->pkt, pkt, len);
	d->len = len;
	d->conn = conn;
	d->n = store_direct_staged(st, sid) + 1;
	st->ndirects++;
	return SIO_OK;
}

/* Whether a packet for sid, held by (holder, conn) with queued packets
 * in its outbox, can skip the outbox: the direct path. */
static int
store_direct_ok(struct sio_store *st, const char *sid, const char *holder,
                long long conn, long long queued, long long due)
{
	return st->direct_accept != NULL && queued == 0 && due == 0 &&
	       holder[0] != '\0' && strcmp(holder, st->direct_holder) == 0 &&
	       st->direct_accept(st->direct_udata, sid, conn,
	                         store_direct_staged(st, sid));
}

/* --- counters kept in memory ------------------------------------------------
 */

void
sio_store_defer_counters(struct sio_store *st)
{
	st->defer_counters = 1;
}

int
sio_store_counters_flush(struct sio_store *st, long long now)
{
	int own, rc = SIO_OK, i, any = 0;

	for (i = 0; i < SIO_STORE_LATER_N; i++)
		any |= st->later[i] != 0;
	/* a wall clock gone back does not hold the counters for as long */
	if (!any ||
	    (now > 0 && now >= st->later_at && now - st->later_at < 1000))
		return SIO_OK;
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	for (i = 0; i < SIO_STORE_LATER_N && rc == SIO_OK; i++)
		if (st->later[i] != 0)
			rc = st->ops->counter_add(st, store_later_names[i],
			                          st->later[i]);
	rc = sio_store_tx_end(st, own, rc);
	if (rc == SIO_OK) {
		memset(st->later, 0, sizeof(st->later));
		st->later_at = now > 0 ? now : sio_store_now();
	}
	return rc;
}

int
sio_store_counter_add(struct sio_store *st, const char *name, long long delta)
{
	/* deferred, the hot counters wait in memory */
	for (int i = 0; st->defer_counters && i < SIO_STORE_LATER_N; i++)
		if (strcmp(name, store_later_names[i]) == 0) {
			st->later[i] += delta;
			return SIO_OK;
		}
	return st->ops->counter_add(st, name, delta);
}

int
sio_store_counter_get(struct sio_store *st, const char *name, long long *value)
{
	long long v = 0;

	if (st->ops->counter_get(st, name, &v) != SIO_OK)
		return SIO_ERR;
	for (int i = 0; i < SIO_STORE_LATER_N; i++)
		if (strcmp(name, store_later_names[i]) == 0)
			v += st->later[i]; /* this connection's, not flushed */
	*value = v;
	return SIO_OK;
}

/* --- schemas (schema/schema.sql, schema/pg.sql), for the backends --- */

#define STORE_MARKER "-- version "

/* The next `-- version N` line at or after the line starting at p, or
 * NULL; N in *version. */
static const char *
store_marker(const char *p, int *version)
{
	size_t n = strlen(STORE_MARKER);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, STORE_MARKER, n) == 0 &&
		    isdigit((unsigned char)p[n])) {
			*version = atoi(p + n);
			return p;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

int
sio_store_schema_latest(const char *schema)
{
	const char *p = schema;
	int v, max = 0;

	while ((p = store_marker(p, &v)) != NULL) {
		if (v > max)
			max = v;
		p += strlen(STORE_MARKER);
	}
	return max;
}

int
sio_store_schema_run(struct sio_store *st, const char *schema, int have,
                     int (*run)(struct sio_store *st, const char *sql))
{
	const char *p, *body;
	int v, next, rc = SIO_OK;

	for (p = store_marker(schema, &v); p != NULL && rc == SIO_OK;
	     v = next) {
		body = strchr(p, '\n');
		body = body ? body + 1 : p + strlen(p);
		p = store_marker(body, &next);
		if (v > have) {
			size_t len = p ? (size_t)(p - body) : strlen(body);
			char *sql = strndup(body, len);

			if (sql == NULL)
				return sio_store_fail(st, "out of memory");
			rc = run(st, sql);
			free(sql);
		}
	}
	return rc;
}

/* --- opening and closing ------------------------------------------------- */

/* Linked in by the programs of a build with libpq (Makefile: PG_LIB). */
extern const struct sio_store_ops sio_store_pg_ops __attribute__((weak));

int
sio_store_is_server(const char *database)
{
	return database && (strncmp(database, "postgresql://", 13) == 0 ||
	                    strncmp(database, "postgres://", 11) == 0);
}

const char *
sio_store_label(const char *database)
{
	return sio_store_is_server(database) ? "postgresql://..." : database;
}

/* The backend a database string names: a postgresql:// or postgres://
 * URI is PostgreSQL's (NULL when this build lacks it), anything else a
 * SQLite file. */
static const struct sio_store_ops *
store_backend(const char *path)
{
	if (sio_store_is_server(path))
		return &sio_store_pg_ops != NULL ? &sio_store_pg_ops : NULL;
	return &sio_store_sqlite_ops;
}

struct sio_store_listener {
	const struct sio_store_ops *ops;
	void *impl;
};

struct sio_store_listener *
sio_store_listen(const char *database, const char *holder, const char *run_dir,
                 char *err)
{
	const struct sio_store_ops *ops = store_backend(database);
	struct sio_store_listener *l;

	err[0] = '\0';
	if (ops == NULL || ops->listen == NULL)
		return NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		sio_err(err, "out of memory");
		return NULL;
	}
	l->ops = ops;
	if ((l->impl = ops->listen(database, holder, run_dir, err)) == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

void
sio_store_unlisten(struct sio_store_listener *l)
{
	if (l == NULL)
		return;
	l->ops->unlisten(l->impl);
	free(l);
}

struct sio_store *
sio_store_open(const char *path, const struct sio_store_opts *opts, char *err)
{
	struct sio_store *st;
	char dummy[SIO_ERR_LEN];

	if (err == NULL)
		err = dummy;
	/* rings go there: never to a socket another user could put */
	if (opts && opts->run_dir &&
	    sio_perm_path_safe("run_dir", opts->run_dir,
	                       SIO_PERM_DIR | SIO_PERM_MISSING |
	                           (opts->shared_group ? SIO_PERM_SHARED : 0),
	                       "another user could receive the session ids "
	                       "rung there",
	                       err) != SIO_OK)
		return NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		sio_err(err, "out of memory");
		return NULL;
	}
	st->bell_fd = -1;
	st->ops = store_backend(path);
	if (st->ops == NULL) {
		sio_err(err,
		        "database %s: this build has no PostgreSQL backend "
		        "(it was built without libpq)",
		        path);
		free(st);
		return NULL;
	}
	if (opts && opts->run_dir &&
	    (st->run_dir = strdup(opts->run_dir)) == NULL) {
		sio_err(err, "out of memory");
		free(st);
		return NULL;
	}
	if (st->ops->open(st, path, opts, err) != SIO_OK) {
		free(st->run_dir);
		free(st);
		return NULL;
	}
	return st;
}

struct sio_store *
sio_store_open_config(const struct sio_config *cfg, enum sio_store_role role,
                      char *err)
{
	struct sio_store_opts opts = {
	    .synchronous = cfg->synchronous,
	    .shared_group = cfg->db_group,
	    .run_dir = cfg->run_dir,
	    .max_queue = cfg->max_queue,
	    .role = role,
	};

	return sio_store_open(cfg->database, &opts, err);
}

void
sio_store_close(struct sio_store *st)
{
	if (st == NULL)
		return;
	if (!st->ops->in_transaction(st))
		sio_store_counters_flush(st, 0);
	store_direct_drop(st, 0);
	free(st->directs);
	st->ops->close(st);
	if (st->bell_fd >= 0)
		close(st->bell_fd);
	free(st->bells);
	free(st->run_dir);
	free(st);
}

const char *
sio_store_errmsg(struct sio_store *st)
{
	return st->errmsg;
}

int
sio_store_tick(struct sio_store *st, long long now)
{
	return st->ops->tick(st, now);
}

int
sio_store_watch(struct sio_store *st, const char *holder, long long now,
                void (*fn)(void *udata, const char *sid), void *udata)
{
	int rc;

	if (st->ops->watch != NULL)
		return st->ops->watch(st, holder, now, fn, udata);
	rc = st->ops->tick(st, now);
	return rc == 1 ? st->ops->outbox_ready(st, holder, now, fn, udata) : rc;
}

int
sio_store_prelude(struct sio_store *st, const char *const *sids, int n,
                  int endpoints)
{
	if (st->ops->prelude == NULL || n <= 0)
		return SIO_OK;
	return st->ops->prelude(st, sids, n, endpoints);
}

int
sio_store_maintain(struct sio_store *st, long long now)
{
	return st->ops->maintain(st, now);
}

/* --- sessions --------------------------------------------------------- */

/* Fills buf with size bytes from the kernel. SIO_OK or SIO_ERR. */
static int
store_random(struct sio_store *st, void *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size) {
		n = getrandom((char *)buf + got, size - got, 0);
		if (n < 0 && errno != EINTR)
			return sio_store_fail(st, "getrandom: %s",
			                      strerror(errno));
		if (n > 0)
			got += (size_t)n;
	}
	return SIO_OK;
}

/* 128 bits from the kernel as unpadded base64url: 22 characters. */
static int
store_new_sid(struct sio_store *st, char sid[SIO_SID_LEN + 1])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[16];
	unsigned int acc = 0;
	size_t i, j = 0;
	int bits = 0;

	if (store_random(st, raw, sizeof(raw)) != SIO_OK)
		return SIO_ERR;
	for (i = 0; i < sizeof(raw); i++) {
		acc = (acc << 8) | raw[i];
		for (bits += 8; bits >= 6; bits -= 6)
			sid[j++] = b64[(acc >> (bits - 6)) & 63];
	}
	sid[j++] = b64[(acc << (6 - bits)) & 63];
	sid[j] = '\0';
	assert(j == SIO_SID_LEN);
	return SIO_OK;
}

int
sio_store_sid_new(struct sio_store *st, char sid[SIO_SID_LEN + 1])
{
	return store_new_sid(st, sid);
}

int
sio_store_session_new(struct sio_store *st, const char *request, long long now,
                      char sid[SIO_SID_LEN + 1])
{
	if (store_new_sid(st, sid) != SIO_OK)
		return SIO_ERR;
	return sio_store_session_add(st, sid, request, now);
}

int
sio_store_session_add(struct sio_store *st, const char *sid,
                      const char *request, long long now)
{
	return st->ops->session_new(st, sid, request, now);
}

int
sio_store_sessions_live(struct sio_store *st, const char *remote, int max,
                        int *all, int *of_remote)
{
	return st->ops->sessions_live(st, remote, max, all, of_remote);
}

int
sio_store_session_get(struct sio_store *st, const char *sid,
                      struct sio_store_session *out)
{
	memset(out, 0, sizeof(*out));
	return st->ops->session_get(st, sid, out);
}

void
sio_store_session_cleanup(struct sio_store_session *s)
{
	free(s->request);
	s->request = NULL;
}

int
sio_store_session_state(struct sio_store *st, const char *sid,
                        long long *last_recv)
{
	return st->ops->session_state(st, sid, last_recv);
}

/*
 * The process names this program registered with sio_store_process_new()
 * and has not unregistered (a long-running process has one at a time; a
 * test may have a few). An attach by one of them holds only while its row
 * is in processes: a process the others reaped (its host cut off, or
 * stalled, for longer than its lease) attaches nothing under its old name
 * in the moment before its own renewal finds the row gone and it
 * registers anew.
 */
#define STORE_SELF_MAX 8
static pthread_mutex_t store_self_lock = PTHREAD_MUTEX_INITIALIZER;
static char store_self[STORE_SELF_MAX][SIO_HOLDER_LEN];

/* Adds (add) or removes name; a full list forgets its oldest. */
static void
store_self_set(const char *name, int add)
{
	int i, free_at = -1;

	pthread_mutex_lock(&store_self_lock);
	for (i = 0; i < STORE_SELF_MAX; i++) {
		if (strcmp(store_self[i], name) == 0) {
			if (!add)
				store_self[i][0] = '\0';
			break;
		}
		if (store_self[i][0] == '\0' && free_at < 0)
			free_at = i;
	}
	if (add && i == STORE_SELF_MAX) {
		if (free_at < 0) {
			memmove(store_self[0], store_self[1],
			        sizeof(store_self) - sizeof(store_self[0]));
			free_at = STORE_SELF_MAX - 1;
		}
		snprintf(store_self[free_at], SIO_HOLDER_LEN, "%s", name);
	}
	pthread_mutex_unlock(&store_self_lock);
}

/* Whether holder is a name this program registered. */
static int
store_self_is(const char *holder)
{
	int found = 0;

	pthread_mutex_lock(&store_self_lock);
	for (int i = 0; i < STORE_SELF_MAX && !found; i++)
		found = strcmp(store_self[i], holder) == 0;
	pthread_mutex_unlock(&store_self_lock);
	return found;
}

int
sio_store_attach(struct sio_store *st, const char *sid, int transport,
                 const char *holder, long long conn, long long now, int *hello,
                 unsigned from, int to)
{
	if (transport < 0 || transport >= SIO_TRANSPORT_COUNT)
		return sio_store_fail(st, "bad transport %d", transport);
	if (strlen(holder) >= SIO_HOLDER_LEN)
		return sio_store_fail(st, "holder name too long");
	st->fenced = 0;
	return st->ops->attach(st, sid, transport, holder, conn, now, hello,
	                       from, to, store_self_is(holder));
}

int
sio_store_detach(struct sio_store *st, const char *sid, const char *holder,
                 long long conn, long long now, unsigned from, int to)
{
	return st->ops->detach(st, sid, holder, conn, now, from, to);
}

int
sio_store_hello_sent(struct sio_store *st, const char *sid, int sent)
{
	return st->ops->hello_sent(st, sid, sent);
}

int
sio_store_is_holder(struct sio_store *st, const char *sid, const char *holder,
                    long long conn)
{
	return sio_store_holder_state(st, sid, holder, conn) >= 0;
}

int
sio_store_holder_state(struct sio_store *st, const char *sid,
                       const char *holder, long long conn)
{
	return st->ops->holder_state(st, sid, holder, conn);
}

int
sio_store_touch(struct sio_store *st, const char *sid, long long now)
{
	return st->ops->touch(st, sid, now);
}

int
sio_store_session_end(struct sio_store *st, const char *sid, const char *reason,
                      long long now, unsigned from, int to)
{
	return st->ops->session_end(st, sid, reason, now, from, to);
}

int
sio_store_session_forget(struct sio_store *st, const char *sid)
{
	return st->ops->session_forget(st, sid);
}

int
sio_store_session_gone(struct sio_store *st, const char *sid)
{
	return st->ops->session_gone(st, sid);
}

int
sio_store_session_purge(struct sio_store *st, const char *sid)
{
	return st->ops->session_purge(st, sid);
}

int
sio_store_cleanup(struct sio_store *st, long long before)
{
	return st->ops->cleanup(st, before);
}

int
sio_store_cleanup_drained(struct sio_store *st)
{
	return st->ops->cleanup_drained(st);
}

/* --- timers --------------------------------------------------------------- */

int
sio_store_heartbeat_due(struct sio_store *st, long long now,
                        long long interval_ms, const char *holder,
                        long long others_late_ms, int state,
                        unsigned transports)
{
	return st->ops->heartbeat_due(st, now, interval_ms, holder,
	                              others_late_ms, state, transports);
}

int
sio_store_expired(struct sio_store *st, long long now,
                  const struct sio_store_expiry *e,
                  char (*sids)[SIO_SID_LEN + 1], int *states, int max)
{
	if (e->n < 0 || e->n > SIO_STORE_TIMEOUTS_MAX)
		return sio_store_fail(st, "%d timeouts", e->n);
	if (max <= 0)
		return 0;
	return st->ops->expired(st, now, e, sids, states, max);
}

int
sio_store_clock_check(struct sio_store *st, const char *boot, long long wall,
                      long long mono, long long *step)
{
	*step = 0;
	return st->ops->clock_check(st, boot, wall, mono, step);
}

/* --- the outbox ------------------------------------------------------- */

int
sio_store_outbox_room(struct sio_store *st, const char *sid, int *room,
                      int *attached, long long *last_recv)
{
	long long ignored;

	return st->ops->outbox_room(st, sid, room, attached,
	                            last_recv ? last_recv : &ignored);
}

int
sio_store_outbox_put(struct sio_store *st, const char *sid, const char *pkt,
                     size_t len, int flags, long long due)
{
	char holder[SIO_HOLDER_LEN];
	long long conn = 0, queued = 0;
	int own, rc;

	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	if (st->direct_accept == NULL && st->ops->outbox_put != NULL) {
		rc = st->ops->outbox_put(st, sid, pkt, len, flags, due, holder);
		if (rc == SIO_OK && holder[0] != '\0')
			sio_store_bell(st, holder, sid);
		return sio_store_tx_end(st, own, rc);
	}
	rc = st->ops->outbox_target(st, sid, flags, holder, &conn, &queued);
	if (rc == SIO_OK &&
	    store_direct_ok(st, sid, holder, conn, queued, due)) {
		rc = store_direct_add(st, sid, conn, pkt, len);
	} else if (rc == SIO_OK &&
	           (holder[0] != '\0' || !(flags & SIO_STORE_VOLATILE))) {
		rc = st->ops->outbox_insert(st, sid, pkt, len, due);
		if (rc == SIO_OK && holder[0] != '\0')
			sio_store_bell(st, holder, sid);
	}
	return sio_store_tx_end(st, own, rc);
}

int
sio_store_outbox_broadcast(struct sio_store *st, const char *endpoint,
                           const char *room, const char *exclude_sid,
                           const char *pkt, size_t len, int flags,
                           long long due)
{
	return st->ops->outbox_broadcast(st, endpoint, room, exclude_sid, pkt,
	                                 len, flags, due);
}

int
sio_store_outbox_peek(struct sio_store *st, const char *sid, long long now,
                      size_t max, const char *holder, long long conn,
                      int (*fn)(void *udata, const char *pkt, size_t len),
                      void *udata, long long *last_seq)
{
	*last_seq = 0;
	st->blocked = 0;
	return st->ops->outbox_peek(st, sid, now, max, holder, conn, fn, udata,
	                            last_seq, &st->blocked);
}

int
sio_store_fenced(struct sio_store *st)
{
	return st->fenced;
}

int
sio_store_outbox_blocked(struct sio_store *st)
{
	return st->blocked;
}

int
sio_store_outbox_next_due(struct sio_store *st, const char *sid, long long now,
                          long long *due)
{
	return st->ops->outbox_next_due(st, sid, now, due);
}

int
sio_store_outbox_ready(struct sio_store *st, const char *holder, long long now,
                       void (*fn)(void *udata, const char *sid), void *udata)
{
	return st->ops->outbox_ready(st, holder, now, fn, udata);
}

int
sio_store_outbox_del(struct sio_store *st, const char *sid, long long now,
                     long long last_seq)
{
	return st->ops->outbox_del(st, sid, now, last_seq);
}

int
sio_store_outbox_take(struct sio_store *st, const char *sid, long long now,
                      size_t max, const char *holder, long long conn,
                      int (*fn)(void *udata, const char *pkt, size_t len),
                      void *udata)
{
	st->blocked = 0;
	st->dropped = 0;
	return st->ops->outbox_take(st, sid, now, max, holder, conn, fn, udata,
	                            &st->blocked, &st->dropped);
}

int
sio_store_outbox_dropped(struct sio_store *st)
{
	return st->dropped;
}

int
sio_store_outbox_done(struct sio_store *st, const char *sid, const char *holder,
                      long long conn)
{
	return st->ops->outbox_done(st, sid, holder, conn);
}

int
sio_store_outbox_done_detach(struct sio_store *st, const char *sid,
                             const char *holder, long long conn, long long now,
                             unsigned from, int to)
{
	int own, rc;

	if (st->ops->outbox_done_detach != NULL)
		return st->ops->outbox_done_detach(st, sid, holder, conn, now,
		                                   from, to);
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = st->ops->outbox_done(st, sid, holder, conn);
	if (rc == SIO_OK)
		rc = st->ops->detach(st, sid, holder, conn, now, from, to);
	return sio_store_tx_end(st, own, rc);
}

int
sio_store_can_done_take(struct sio_store *st)
{
	return st->ops->outbox_done_take != NULL;
}

int
sio_store_outbox_done_take(struct sio_store *st, const char *sid, long long now,
                           size_t max, const char *holder, long long conn,
                           int done,
                           int (*fn)(void *udata, const char *pkt, size_t len),
                           void *udata, int *state, int *more)
{
	int rc;

	st->blocked = 0;
	st->dropped = 0;
	*more = 0;
	*state = SIO_ABSENT;
	if (st->ops->outbox_done_take == NULL)
		return sio_store_fail(st, "done_take: not with this store");
	if (st->ops->in_transaction(st))
		return sio_store_fail(st, "done_take: inside a transaction");
	rc = st->ops->outbox_done_take(st, sid, now, max, holder, conn, done,
	                               fn, udata, state, &st->blocked, more);
	store_ring(st); /* what it did is done, whatever failed after */
	return rc;
}

int
sio_store_outbox_release(struct sio_store *st, const char *sid,
                         const char *holder, long long conn)
{
	return st->ops->outbox_release(st, sid, holder, conn);
}

int
sio_store_outbox_count(struct sio_store *st, const char *sid)
{
	return st->ops->outbox_count(st, sid);
}

/* --- the bridge's queue ----------------------------------------------------
 */

void
sio_store_set_bridge_hook(struct sio_store *st,
                          void (*fn)(void *udata, const char *sid), void *udata)
{
	st->bridge_hook = fn;
	st->bridge_udata = udata;
}

/* Whether sid fits a session id's room (the commit's list copies it). */
static int
store_bridge_sid_ok(const char *sid)
{
	return sid != NULL && *sid != '\0' && strlen(sid) <= SIO_SID_LEN;
}

int
sio_store_bridge_put(struct sio_store *st, const char *sid, const char *body,
                     size_t len, long long now, int max)
{
	int own, rc;

	if (!store_bridge_sid_ok(sid))
		return sio_store_fail(st, "bridge_put: bad session id");
	if (body == NULL || len == 0)
		return sio_store_fail(st, "bridge_put: empty event");
	if (sio_store_tx_begin(st, &own) != SIO_OK)
		return SIO_ERR;
	rc = st->ops->bridge_put(st, sid, body, len, now, max);
	/* the hook's entry, rolled back with the put's savepoint */
	if (rc == SIO_OK && st->bridge_hook != NULL) {
		if (store_direct_new(st, sid) != NULL)
			st->ndirects++;
		else
			rc = sio_store_fail(st, "out of memory");
	}
	return sio_store_tx_end(st, own, rc);
}

int
sio_store_bridge_take(struct sio_store *st, const char *sid, const char *taker,
                      long long now, long long lease_ms, long long grace_ms,
                      int max,
                      void (*fn)(void *udata,
                                 const struct sio_store_bridge_event *e),
                      void *udata)
{
	if (sid != NULL && !store_bridge_sid_ok(sid))
		return 0;
	if (taker == NULL || *taker == '\0')
		return sio_store_fail(st, "bridge_take: no taker");
	return st->ops->bridge_take(st, sid, taker, now, lease_ms, grace_ms,
	                            max, fn, udata);
}

int
sio_store_bridge_done(struct sio_store *st, const char *sid, long long seq,
                      const char *taker)
{
	if (sid == NULL || taker == NULL)
		return SIO_ABSENT;
	return st->ops->bridge_done(st, sid, seq, taker);
}

int
sio_store_bridge_retry(struct sio_store *st, const char *sid, long long seq,
                       const char *taker, long long next_at)
{
	if (sid == NULL || taker == NULL)
		return SIO_ABSENT;
	return st->ops->bridge_retry(st, sid, seq, taker, next_at);
}

int
sio_store_bridge_count(struct sio_store *st, const char *sid, long long *n)
{
	return st->ops->bridge_count(st, sid, n);
}

/* --- endpoints, data, rooms, acks --------------------------------------- */

int
sio_store_endpoint_add(struct sio_store *st, const char *sid,
                       const char *endpoint, const char *query)
{
	return st->ops->endpoint_add(st, sid, endpoint, query);
}

int
sio_store_endpoint_del(struct sio_store *st, const char *sid,
                       const char *endpoint)
{
	return st->ops->endpoint_del(st, sid, endpoint);
}

int
sio_store_endpoint_has(struct sio_store *st, const char *sid,
                       const char *endpoint)
{
	return st->ops->endpoint_has(st, sid, endpoint);
}

int
sio_store_endpoint_list(struct sio_store *st, const char *sid,
                        void (*fn)(void *udata, const char *endpoint,
                                   const char *query),
                        void *udata)
{
	return st->ops->endpoint_list(st, sid, fn, udata);
}

char *
sio_store_data_get(struct sio_store *st, const char *sid, const char *key)
{
	st->errmsg[0] = '\0';
	return st->ops->data_get(st, sid, key);
}

int
sio_store_data_put(struct sio_store *st, const char *sid, const char *key,
                   const char *value)
{
	return st->ops->data_put(st, sid, key, value);
}

int
sio_store_room_join(struct sio_store *st, const char *sid, const char *endpoint,
                    const char *room)
{
	return st->ops->room_join(st, sid, endpoint, room);
}

int
sio_store_room_leave(struct sio_store *st, const char *sid,
                     const char *endpoint, const char *room)
{
	return st->ops->room_leave(st, sid, endpoint, room);
}

long long
sio_store_ack_new(struct sio_store *st, const char *sid, const char *endpoint,
                  const char *handler, const char *event)
{
	return st->ops->ack_new(st, sid, endpoint, handler, event);
}

int
sio_store_ack_get(struct sio_store *st, const char *sid, const char *endpoint,
                  long long id, char **handler, char **event)
{
	*handler = *event = NULL;
	return st->ops->ack_get(st, sid, endpoint, id, handler, event);
}

int
sio_store_ack_take(struct sio_store *st, const char *sid, const char *endpoint,
                   long long id, char **handler, char **event)
{
	*handler = *event = NULL;
	return st->ops->ack_take(st, sid, endpoint, id, handler, event);
}

/* --- processes ------------------------------------------------------- */

/*
 * A process's lease says when it is gone at the latest. Where the reaper
 * can see the process itself it need not wait: in the same pid space
 * (the same pid namespace, on the same boot of the same kernel, with a
 * /proc that shows that namespace), a pid that is gone, or whose process
 * started at another time than the registered one (the kernel gave the
 * pid again), is a process that died. Elsewhere (another container, a
 * /proc of another namespace) the pid says nothing and the lease alone
 * decides.
 */

/* Reads the start time (clock ticks after boot, field 22) of pid from
 * /proc; pid 0: this process, with its pid in *seen. SIO_OK, SIO_ABSENT
 * when there is no such process, SIO_ERR when /proc cannot tell. */
static int
store_pid_start(long long pid, long long *start, long long *seen)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, i;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/stat");
	else
		snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? SIO_ABSENT : SIO_ERR;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n == 0 || errno == ESRCH ? SIO_ABSENT : SIO_ERR;
	buf[n] = '\0';
	if (seen != NULL)
		*seen = strtoll(buf, NULL, 10);
	/* the command name may hold spaces and parentheses: after the last
	 * ')' come field 3 (state) and the others */
	if ((p = strrchr(buf, ')')) == NULL)
		return SIO_ERR;
	for (i = 3; i <= 22 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return SIO_ERR;
	*start = strtoll(p + 1, NULL, 10);
	return SIO_OK;
}

/* This process's pid space ("<boot id>/<pid ns dev>:<inode>/<time ns
 * dev>:<inode>": start times in /proc are offset by the reader's time
 * namespace) and start time: SIO_OK, or SIO_ABSENT when it has none that
 * others could use (no /proc, or a /proc of another pid namespace). */
int
sio_store_pid_space(char space[SIO_STORE_SPACE_LEN], long long *start)
{
	char boot[64] = "";
	long long seen = -1;
	struct stat sb;
	ssize_t n;
	int fd;

	if (store_pid_start(0, start, &seen) != SIO_OK || seen != getpid() ||
	    stat("/proc/self/ns/pid", &sb) < 0)
		return SIO_ABSENT;
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return SIO_ABSENT;
	n = read(fd, boot, sizeof(boot) - 1);
	close(fd);
	if (n < 32)
		return SIO_ABSENT;
	boot[36 < n ? 36 : n] = '\0';
	n = snprintf(space, SIO_STORE_SPACE_LEN, "%s/%llu:%llu", boot,
	             (unsigned long long)sb.st_dev,
	             (unsigned long long)sb.st_ino);
	if (stat("/proc/self/ns/time", &sb) == 0 && n > 0 &&
	    n < SIO_STORE_SPACE_LEN)
		snprintf(space + n, SIO_STORE_SPACE_LEN - (size_t)n,
		         "/%llu:%llu", (unsigned long long)sb.st_dev,
		         (unsigned long long)sb.st_ino);
	return SIO_OK;
}

int
sio_store_pid_gone(long long pid, long long start)
{
	long long now_start;

	if (pid <= 0)
		return 0; /* not a pid: the lease will tell */
	switch (store_pid_start(pid, &now_start, NULL)) {
	case SIO_ABSENT:
		return 1;
	case SIO_OK:
		return now_start != start;
	default:
		return 0; /* /proc cannot tell: the lease will */
	}
}

int
sio_store_process_register(struct sio_store *st, const char *name, int pid,
                           long long now)
{
	/* the name is also a file name in the run directory */
	if (name[0] == '\0' || strlen(name) >= SIO_HOLDER_LEN ||
	    strchr(name, '/') != NULL)
		return sio_store_fail(st, "bad process name");
	return st->ops->process_register(st, name, pid, now);
}

/* A name that is taken means a collision of 32 random bits: a few tries
 * are plenty. */
#define STORE_NAME_TRIES 8
/* The most bytes of the host name in a process name. */
#define STORE_HOST_MAX 20

/* This host's name as a process name shows it: its first label, letters,
 * digits and '.' kept, up to STORE_HOST_MAX bytes ("host" when none). */
static void
store_host(char host[STORE_HOST_MAX + 1])
{
	char buf[256] = "";
	size_t n = 0;

	if (gethostname(buf, sizeof(buf) - 1) != 0)
		buf[0] = '\0';
	for (const char *p = buf; *p && *p != '.' && n < STORE_HOST_MAX; p++)
		if (isalnum((unsigned char)*p))
			host[n++] = *p;
	host[n] = '\0';
	if (n == 0)
		strcpy(host, "host");
}

int
sio_store_process_new(struct sio_store *st, const char *kind, int pid,
                      long long now, char name[SIO_HOLDER_LEN])
{
	char try[SIO_HOLDER_LEN], host[STORE_HOST_MAX + 1];
	uint32_t r;
	int n, rc = SIO_FULL;

	store_host(host);
	for (int i = 0; rc == SIO_FULL && i < STORE_NAME_TRIES; i++) {
		if (store_random(st, &r, sizeof(r)) != SIO_OK)
			return SIO_ERR;
		n = snprintf(try, sizeof(try), "%s-%s-%d-%08" PRIx32, kind,
		             host, pid, r);
		if (n < 0 || (size_t)n >= sizeof(try))
			return sio_store_fail(st, "process kind too long");
		rc = sio_store_process_register(st, try, pid, now);
	}
	if (rc == SIO_OK) {
		memcpy(name, try, sizeof(try));
		store_self_set(name, 1);
	}
	return rc == SIO_FULL ? SIO_ERR : rc;
}

int
sio_store_process_renew(struct sio_store *st, const char *name, long long now)
{
	return st->ops->process_renew(st, name, now);
}

int
sio_store_process_unregister(struct sio_store *st, const char *name,
                             long long now, unsigned from, int to)
{
	int rc = st->ops->process_unregister(st, name, now, from, to);

	if (rc == SIO_OK)
		store_self_set(name, 0);
	return rc;
}

int
sio_store_reap(struct sio_store *st, long long now, long long lease_ms,
               unsigned from, int to)
{
	return st->ops->reap(st, now, lease_ms, from, to);
}

/* --- listings and stats ------------------------------------------------- */

int
sio_store_session_list(struct sio_store *st, const char *sid,
                       int (*fn)(void *udata,
                                 const struct sio_store_summary *s),
                       void *udata)
{
	return st->ops->session_list(st, sid, fn, udata);
}

int
sio_store_room_list(struct sio_store *st, const char *sid,
                    void (*fn)(void *udata, const char *endpoint,
                               const char *room),
                    void *udata)
{
	return st->ops->room_list(st, sid, fn, udata);
}

int
sio_store_process_list(struct sio_store *st,
                       int (*fn)(void *udata,
                                 const struct sio_store_process *p),
                       void *udata)
{
	return st->ops->process_list(st, fn, udata);
}

int
sio_store_counter_list(struct sio_store *st,
                       void (*fn)(void *udata, const char *name,
                                  long long value),
                       void *udata)
{
	return st->ops->counter_list(st, fn, udata);
}

int
sio_store_session_counts(struct sio_store *st,
                         void (*fn)(void *udata, enum sio_session_state state,
                                    int transport, long long sessions,
                                    long long queued),
                         void *udata)
{
	return st->ops->session_counts(st, fn, udata);
}

int
sio_store_stats(struct sio_store *st, struct sio_store_stats *out)
{
	memset(out, 0, sizeof(*out));
	/* a read only (a callback's run may ask, holding no write lock):
	 * this connection's deferred counters are added to what it reads */
	if (st->ops->stats(st, out) != SIO_OK)
		return SIO_ERR;
	out->packets_sent += st->later[SIO_STORE_LATER_SENT];
	out->packets_received += st->later[SIO_STORE_LATER_RECEIVED];
	return SIO_OK;
}

int
sio_store_stats_sample(struct sio_store *st, long long now)
{
	return st->ops->stats_sample(st, now);
}
