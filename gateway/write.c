/*
 * write.c: sio-gateway's write transactions. Every write of the process
 * goes through one SQLite connection, the writer, one transaction at a
 * time, in one of three ways:
 *
 * - gw_write_run() batches: the first thread to find no batch running
 *   becomes the leader, runs every write queued so far in one transaction
 *   (each in a savepoint of its own, so that one failing undoes only its
 *   part), commits once, and hands the lead to the thread of the next
 *   write queued meanwhile. Under load one commit serves many requests,
 *   and pages that several of them touch (the sessions table and its
 *   indexes, the outbox) are written to the WAL once; alone, a write waits
 *   for nothing. A POST's packets, a poll's attach, take and finish go
 *   this way.
 * - gw_write_post() queues a write whose thread need not wait for it (the
 *   end of a poll already answered): the running batch's leader runs it
 *   in the next batch, with whatever comes meanwhile.
 * - gw_write_lock() takes the writer alone, for what opens its own
 *   transaction (the handshake, a forced disconnect, the sweep).
 *
 * Why one writer: SQLite's busy handler sleeps when two connections want
 * the write lock, which the threads of one process want all the time, and
 * a connection drops its page cache whenever another has committed; the
 * threads of this process queue here instead, and the writer's cache
 * stays warm. Reads stay on each thread's own connection. In CGI mode
 * there is one request per process and no writer: its own connection
 * writes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "sidset.h"

enum write_state { WRITE_QUEUED, WRITE_LEADING, WRITE_DONE };

static struct sio_session_ctx write_ctx; /* the writer, once opened */
static struct sio_session_ctx *writer;   /* NULL as CGI */
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;

/* The queue of batched writes; leading: a batch is being run. */
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gw_write *queue_head, *queue_tail;
static int queue_leading;

int
gw_write_open(void)
{
	write_ctx.plugin = gw.plugin;
	write_ctx.cfg = gw.cfg;
	/* The ticker does the store's housekeeping (main.c): a checkpoint
	 * in a commit would hold every write of the process for its fsyncs. */
	write_ctx.store = gw_store_open(SIO_STORE_LOOP);
	if (write_ctx.store == NULL)
		return SIO_ERR;
	/* the hot counters in memory, flushed once a second */
	sio_store_defer_counters(write_ctx.store);
	writer = &write_ctx;
	return SIO_OK;
}

int
gw_write_threaded(void)
{
	return writer != NULL;
}

struct sio_session_ctx *
gw_write_lock(struct sio_session_ctx *x)
{
	if (writer == NULL)
		return x;
	pthread_mutex_lock(&writer_lock);
	writer->cfg = gw.cfg; /* the one reloaded last (SIGHUP) */
	return writer;
}

void
gw_write_unlock(struct sio_session_ctx *wx)
{
	if (wx == writer)
		pthread_mutex_unlock(&writer_lock);
}

void
gw_write_flush(long long now)
{
	/* once a second while the store fails */
	static struct sio_ratelimit rl;

	if (writer == NULL)
		return;
	pthread_mutex_lock(&writer_lock);
	if (sio_store_counters_flush(writer->store, now) != SIO_OK)
		gw_log_limited(&rl, SIO_LOG_WARN, "counters: %s",
		               sio_store_errmsg(writer->store));
	pthread_mutex_unlock(&writer_lock);
}

/* Gathers a sid a batch's writes rang for this process, rung at its
 * commit (on out of memory, the set is lost: every waiter is rung). */
static void
write_ring_add(void *udata, const char *sid)
{
	sio_sidset_add(udata, sid);
}

/* The most sessions a batch reads ahead (the store's own cap too). */
#define WRITE_AHEAD_MAX 512

/* Reads the rows of the sessions the writes of batch read, in one
 * statement (none on SQLite): their reads are answered from them. A
 * failure is no error of theirs: they read for themselves. */
static void
write_prelude(struct sio_store *st, struct gw_write *batch)
{
	const char *sids[WRITE_AHEAD_MAX];
	int n = 0;

	for (struct gw_write *w = batch; w != NULL && n < WRITE_AHEAD_MAX;
	     w = w->next)
		if (w->sid != NULL)
			sids[n++] = w->sid;
	if (n > 0)
		sio_store_prelude(st, sids, n, 0);
}

/* Runs the writes of batch in one transaction on wx. */
static void
write_batch(struct sio_session_ctx *wx, struct gw_write *batch)
{
	/* A store that stays locked or full fails every batch: a few lines a
	 * minute say so. */
	static struct sio_ratelimit begin_rl, commit_rl;
	struct sio_store *st = wx->store;
	struct sio_sidset rung;
	int rc = sio_store_begin(st);

	sio_sidset_init(&rung, 0);

	if (rc != SIO_OK)
		gw_log_limited(&begin_rl, SIO_LOG_ERROR, "begin: %s",
		               sio_store_errmsg(st));
	else
		write_prelude(st, batch);
	for (struct gw_write *w = batch; w != NULL; w = w->next) {
		if (rc != SIO_OK || sio_store_savepoint(st) != SIO_OK) {
			w->rc = SIO_ERR;
			continue;
		}
		wx->err[0] = '\0';
		w->rc = w->fn(wx, w);
		if (w->rc == SIO_ERR)
			sio_store_rollback_to(st);
		else
			sio_store_release(st);
		/* our own bells: no datagram to ourselves */
		sio_store_bells_take(st, gw.holder, write_ring_add, &rung);
	}
	if (rc == SIO_OK && sio_store_commit(st) != SIO_OK) {
		gw_log_limited(&commit_rl, SIO_LOG_ERROR, "commit: %s",
		               sio_store_errmsg(st));
		for (struct gw_write *w = batch; w != NULL; w = w->next)
			w->rc = SIO_ERR;
	}
	for (size_t i = 0; i < sio_sidset_len(&rung); i++)
		gw_wait_ring(sio_sidset_sid(&rung, i));
	if (rung.lost)
		gw_wait_ring(NULL);
	sio_sidset_cleanup(&rung);
}

/* Alone (CGI): the write in a transaction of its own on x. */
static int
write_alone(struct sio_session_ctx *x, struct gw_write *w)
{
	w->next = NULL;
	write_batch(x, w);
	return w->rc;
}

/*
 * Leads with queue_lock held: runs the queue in batches, wakes the thread
 * of each write done (frees the posted ones), and hands the lead to the
 * first write queued meanwhile whose thread waits; posted writes alone it
 * runs itself. w is the leader's own write.
 */
static void
write_lead(struct gw_write *w)
{
	struct gw_write *batch, *b, *next;

	for (;;) {
		batch = queue_head;
		queue_head = queue_tail = NULL;
		pthread_mutex_unlock(&queue_lock);
		pthread_mutex_lock(&writer_lock);
		write_batch(writer, batch);
		pthread_mutex_unlock(&writer_lock);
		pthread_mutex_lock(&queue_lock);
		for (b = batch; b != NULL; b = next) {
			next = b->next; /* b may return once signalled */
			b->state = WRITE_DONE;
			if (b->posted)
				free(b);
			else if (b != w)
				pthread_cond_signal(&b->cond);
		}
		for (b = queue_head; b != NULL && b->posted; b = b->next)
			;
		if (b != NULL) { /* queued meanwhile: the next lead */
			b->state = WRITE_LEADING;
			pthread_cond_signal(&b->cond);
			return;
		}
		if (queue_head == NULL) {
			queue_leading = 0;
			return;
		}
	}
}

int
gw_write_run(struct sio_session_ctx *x, struct gw_write *w)
{
	w->posted = 0;
	if (writer == NULL)
		return write_alone(x, w);
	pthread_cond_init(&w->cond, NULL);
	w->next = NULL;
	w->state = WRITE_QUEUED;
	pthread_mutex_lock(&queue_lock);
	if (queue_tail != NULL)
		queue_tail->next = w;
	else
		queue_head = w;
	queue_tail = w;
	if (!queue_leading) {
		queue_leading = 1;
		w->state = WRITE_LEADING;
	}
	while (w->state == WRITE_QUEUED)
		pthread_cond_wait(&w->cond, &queue_lock);
	if (w->state == WRITE_LEADING)
		write_lead(w);
	pthread_mutex_unlock(&queue_lock);
	pthread_cond_destroy(&w->cond);
	return w->rc;
}

void
gw_write_post(struct sio_session_ctx *x, struct gw_write *w)
{
	if (writer != NULL) {
		pthread_mutex_lock(&queue_lock);
		if (queue_leading) { /* the leader runs it, and frees it */
			w->posted = 1;
			w->next = NULL;
			w->state = WRITE_QUEUED;
			if (queue_tail != NULL)
				queue_tail->next = w;
			else
				queue_head = w;
			queue_tail = w;
			pthread_mutex_unlock(&queue_lock);
			return;
		}
		pthread_mutex_unlock(&queue_lock);
	}
	gw_write_run(x, w);
	free(w);
}
