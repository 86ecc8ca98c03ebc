/*
 * listen.c: the PostgreSQL backend's doorbells between hosts. A writer
 * whose session's holder has no doorbell on its host (store.c) notifies
 * the holder's channel, named as the holder, after its commit, with the
 * sids as the payload (pg_notify: several sids a notification). Each
 * long-running process keeps a thread with a connection of its own that
 * listens on its channel and rings its own doorbell for each sid, so the
 * process wakes as for a ring of its host. The connection is not pooled
 * (LISTEN belongs to a session); lost, it is made again with a backoff and
 * LISTEN said again, then the process is rung with SIO_DOORBELL_ALL, so
 * that it looks at all its sessions for what was rung meanwhile. A
 * notification that would name more sids than fit is SIO_DOORBELL_ALL
 * too (store.c). The server's pid of that connection is recorded
 * in the process's row: when the server sees it end and the process has
 * stopped renewing, any reaper knows the process is gone (timer.c).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "doorbell.h"
#include "pg.h"
#include "result.h"

/* The longest wait between two tries to connect (ms), and how often a
 * quiet connection is checked (ms): a server that went away without a
 * word (a host powered off) is found by this query failing. */
#define LISTEN_BACKOFF_MAX_MS 5000
#define LISTEN_CHECK_MS 10000

struct pg_listener {
	pthread_t thread;
	int stop_fd; /* eventfd: written once to stop the thread */
	char *path, *holder, *run_dir;
};

int
pg_notify(struct sio_store *st, const char *holder, const char *sids)
{
	return pg_run(st, PG_NOTIFY, "tt", holder, sids);
}

/* Waits up to ms for fd (-1: none) or the stop: 1 when stopping, 0 when
 * fd is readable or the time is up, SIO_ERR. */
static int
listen_wait(struct pg_listener *l, int fd, int ms, int *ready)
{
	struct pollfd p[2] = {{.fd = l->stop_fd, .events = POLLIN},
	                      {.fd = fd, .events = POLLIN}};
	int n = poll(p, fd >= 0 ? 2 : 1, ms);

	*ready = 0;
	if (n < 0)
		return errno == EINTR ? 0 : SIO_ERR;
	if (p[0].revents)
		return 1;
	*ready = fd >= 0 && p[1].revents != 0;
	return 0;
}

/* A connection listening on the holder's channel, or NULL. TCP
 * keepalives and a user timeout find a peer gone silent. */
static PGconn *
listen_connect(struct pg_listener *l)
{
	PGconn *c = pg_connect(l->path, "siogate listener");
	PGresult *r;
	char *chan, *sql;
	int ok = 0;

	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	chan = PQescapeIdentifier(c, l->holder, strlen(l->holder));
	if (chan != NULL && asprintf(&sql, "LISTEN %s", chan) >= 0) {
		r = PQexec(c, sql);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		free(sql);
	}
	PQfreemem(chan);
	if (ok) { /* the reaper watches this connection */
		const char *v[] = {l->holder};

		r = PQexecParams(c,
		                 "UPDATE processes SET listener ="
		                 " pg_backend_pid() WHERE name = $1",
		                 1, NULL, v, NULL, NULL, 0);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
	}
	if (!ok) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Rings the doorbell for each sid of the notifications waiting on c. */
static void
listen_ring(struct pg_listener *l, PGconn *c, int bell_fd)
{
	PGnotify *n;

	while ((n = PQnotifies(c)) != NULL) {
		char *save = NULL, *sid;

		for (sid = strtok_r(n->extra, " ", &save); sid != NULL;
		     sid = strtok_r(NULL, " ", &save))
			if (strlen(sid) <= SIO_SID_LEN && bell_fd >= 0)
				(void)sio_doorbell_ring(bell_fd, l->run_dir,
				                        l->holder, sid);
		PQfreemem(n);
	}
}

/* Serves one connection until it fails (0) or the stop (1). */
static int
listen_serve(struct pg_listener *l, PGconn *c, int bell_fd)
{
	int ready, rc;

	for (;;) {
		rc = listen_wait(l, PQsocket(c), LISTEN_CHECK_MS, &ready);
		if (rc != 0)
			return rc == 1;
		if (!ready) { /* quiet: is the server still there? */
			PGresult *r = PQexec(c, "SELECT 1");
			int ok = PQresultStatus(r) == PGRES_TUPLES_OK;

			PQclear(r);
			if (!ok)
				return 0;
		} else if (!PQconsumeInput(c)) {
			return 0;
		}
		listen_ring(l, c, bell_fd);
	}
}

static void *
listen_main(void *arg)
{
	struct pg_listener *l = arg;
	int bell_fd = sio_doorbell_sender(), backoff = 100, ready;

	for (;;) {
		PGconn *c = listen_connect(l);

		if (c != NULL) {
			backoff = 100;
			/* what was rung while nobody listened */
			if (bell_fd >= 0)
				(void)sio_doorbell_ring(bell_fd, l->run_dir,
				                        l->holder,
				                        SIO_DOORBELL_ALL);
			if (listen_serve(l, c, bell_fd)) {
				PQfinish(c);
				break;
			}
			PQfinish(c);
		}
		if (listen_wait(l, -1, backoff, &ready) != 0)
			break;
		backoff = backoff * 2 > LISTEN_BACKOFF_MAX_MS
		              ? LISTEN_BACKOFF_MAX_MS
		              : backoff * 2;
	}
	if (bell_fd >= 0)
		close(bell_fd);
	return NULL;
}

static void
listen_free(struct pg_listener *l)
{
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	free(l->path);
	free(l->holder);
	free(l->run_dir);
	free(l);
}

void *
pg_listen(const char *path, const char *holder, const char *run_dir, char *err)
{
	struct pg_listener *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		sio_err(err, "out of memory");
		return NULL;
	}
	l->stop_fd = eventfd(0, EFD_CLOEXEC);
	l->path = strdup(path);
	l->holder = strdup(holder);
	l->run_dir = strdup(run_dir);
	if (l->stop_fd < 0 || !l->path || !l->holder || !l->run_dir) {
		sio_err(err, "listener: %s",
		        l->stop_fd < 0 ? strerror(errno) : "out of memory");
		listen_free(l);
		return NULL;
	}
	if (pthread_create(&l->thread, NULL, listen_main, l) != 0) {
		sio_err(err, "listener: cannot start its thread");
		listen_free(l);
		return NULL;
	}
	return l;
}

void
pg_unlisten(void *listener)
{
	struct pg_listener *l = listener;
	uint64_t one = 1;

	if (l == NULL)
		return;
	if (write(l->stop_fd, &one, sizeof(one)) < 0)
		pthread_cancel(l->thread);
	pthread_join(l->thread, NULL);
	listen_free(l);
}
