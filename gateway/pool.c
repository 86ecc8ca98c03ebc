/*
 * pool.c: sio-gateway's store connections: opening one with the configured
 * options, and the pool that the requests share (gw_store_take(),
 * gw_store_give()), trimmed by the ticker once a burst is over.
 */
#include <malloc.h>
#include <pthread.h>
#include <string.h>

#include "gateway.h"
#include "store.h"

/* The first open of a process (gw_register(), before any worker starts)
 * migrates the schema when it is behind; the workers' opens after it find
 * the schema up to date and take no write lock, so they need no turns. */
struct sio_store *
gw_store_open(enum sio_store_role role)
{
	char err[SIO_ERR_LEN];
	struct sio_store *st = sio_store_open_config(gw.cfg, role, err);

	if (st == NULL)
		gw_log(SIO_LOG_ERROR, "store %s: %s",
		       sio_store_label(gw.cfg->database), err);
	else /* app = bridge: its events are sent at its commits */
		gw_bridge_hook(st);
	return st;
}

/* At most database_connections connections (by default 128 for SQLite,
 * 16 for a PostgreSQL server, whose connections others share): past it,
 * a request waits for one to come back (each holder gives it back
 * without waiting for another). Free ones beyond GW_POOL_KEEP close once
 * unused for GW_POOL_IDLE_MS: a burst of requests (a thousand clients
 * polling at once) leaves no hundred connections behind, each some
 * 150 KB. GW_POOL_MAX: the key's greatest value. */
#define GW_POOL_MAX 1024
#define GW_POOL_SQLITE 128
#define GW_POOL_SERVER 16
#define GW_POOL_KEEP 16
#define GW_POOL_IDLE_MS 10000

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_back = PTHREAD_COND_INITIALIZER;
/* The free connections, the least recently given back first, and when
 * each was: fewer than are open, and never more than the cap (as CGI,
 * the request's one connection, opened outside the pool). */
static struct sio_store *pool[GW_POOL_MAX];
static long long pool_since[GW_POOL_MAX];
static size_t pool_n, pool_open;

/* The pool's cap, from the configuration. */
static size_t
pool_cap(void)
{
	if (gw.cfg->database_connections > 0)
		return (size_t)gw.cfg->database_connections;
	return sio_store_is_server(gw.cfg->database) ? GW_POOL_SERVER
	                                             : GW_POOL_SQLITE;
}

struct sio_store *
gw_store_take(void)
{
	struct sio_store *st = NULL;
	size_t cap = pool_cap();

	pthread_mutex_lock(&pool_lock);
	while (pool_n == 0 && pool_open >= cap)
		pthread_cond_wait(&pool_back, &pool_lock);
	if (pool_n > 0)
		st = pool[--pool_n];
	else
		pool_open++; /* opened below, or counted back on failure */
	pthread_mutex_unlock(&pool_lock);
	if (st != NULL)
		return st;
	st = gw_store_open(SIO_STORE_PLAIN);
	if (st == NULL) {
		pthread_mutex_lock(&pool_lock);
		pool_open--;
		pthread_cond_signal(&pool_back);
		pthread_mutex_unlock(&pool_lock);
	}
	return st;
}

void
gw_store_give(struct sio_store *st)
{
	if (st == NULL)
		return;
	pthread_mutex_lock(&pool_lock);
	pool_since[pool_n] = sio_session_mono();
	pool[pool_n++] = st;
	pthread_cond_signal(&pool_back);
	pthread_mutex_unlock(&pool_lock);
}

/* Closes the free connections beyond GW_POOL_KEEP unused since
 * GW_POOL_IDLE_MS before now (the ticker, once a second). */
void
gw_pool_trim(long long now)
{
	struct sio_store *gone[GW_POOL_MAX];
	size_t n = 0;

	pthread_mutex_lock(&pool_lock);
	while (n < pool_n - (pool_n > GW_POOL_KEEP ? GW_POOL_KEEP : pool_n) &&
	       now - pool_since[n] >= GW_POOL_IDLE_MS) {
		gone[n] = pool[n];
		n++;
	}
	if (n > 0) {
		memmove(pool, pool + n, (pool_n - n) * sizeof(pool[0]));
		memmove(pool_since, pool_since + n,
		        (pool_n - n) * sizeof(pool_since[0]));
		pool_n -= n;
		pool_open -= n;
	}
	pthread_mutex_unlock(&pool_lock);
	for (size_t i = 0; i < n; i++)
		sio_store_close(gone[i]);
	/* their memory is spread over the threads' malloc arenas, between
	 * blocks still in use: without this it stays in the process */
	if (n > 0)
		malloc_trim(0);
}
