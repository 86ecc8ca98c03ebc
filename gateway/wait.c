/*
 * wait.c: the table of requests parked on a session (an xhr/jsonp long poll
 * or an htmlfile stream). The dispatcher thread reads the process doorbell
 * and rings the waiters of that sid; the ticker, when the store says that
 * others wrote (sio_store_tick()), rings those with packets ready. Each waiter
 * owns an eventfd rather than a condition variable, so that one poll() watches
 * the ring and the FastCGI connection (client abort) at once.
 *
 * A long poll parked here can also be answered by another thread: a POST
 * that queues packets for the session claims the waiter (gw_wait_claim)
 * and writes the poll's response itself inside its own transaction. The
 * states keep the two threads off the request at the same time: the
 * owner works on it only while BUSY, a claimer only while CLAIMED.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gateway.h"
#include "hash.h"

enum wait_state {
	WAIT_IDLE,     /* not waiting */
	WAIT_BUSY,     /* registered; its thread works on the request */
	WAIT_PARKED,   /* its thread sleeps in gw_wait_for(): claimable */
	WAIT_CLAIMED,  /* another thread is answering for it */
	WAIT_ANSWERED, /* answered by another thread */
};

struct gw_waiter {
	char sid[SIO_SID_LEN + 1]; /* "" when not waiting */
	int fd;                    /* eventfd, non-blocking */
	enum wait_state state;
	int claimable;  /* gw_wait_park() was called: a claimer may answer */
	long long conn; /* the holder connection of the request */
	void *udata;    /* what a claimer answers with */
	struct gw_waiter *next;           /* in wait_list */
	struct gw_waiter *hnext, **hprev; /* in its sid's bucket */
};

static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gw_waiter *wait_list; /* every thread's waiter, forever */
static _Thread_local struct gw_waiter *wait_self;

/* The waiters with a sid (between gw_wait_begin() and gw_wait_end()), by
 * sid: a ring or a claim looks at that session's alone, not at every
 * thread's (there are `threads` of them, a thousand and more). */
#define WAIT_BUCKETS 1024
static struct gw_waiter *wait_table[WAIT_BUCKETS];

static struct gw_waiter **
wait_bucket(const char *sid)
{
	return &wait_table[sio_hash(sid) % WAIT_BUCKETS];
}

/* With wait_lock held: w leaves its bucket, if in one. */
static void
wait_unlink(struct gw_waiter *w)
{
	if (w->hprev == NULL)
		return;
	*w->hprev = w->hnext;
	if (w->hnext != NULL)
		w->hnext->hprev = w->hprev;
	w->hnext = NULL;
	w->hprev = NULL;
}

struct gw_waiter *
gw_wait_self(void)
{
	struct gw_waiter *w = wait_self;

	if (w != NULL)
		return w;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->fd < 0) {
		free(w);
		return NULL;
	}
	pthread_mutex_lock(&wait_lock);
	w->next = wait_list;
	wait_list = w;
	pthread_mutex_unlock(&wait_lock);
	wait_self = w;
	return w;
}

void
gw_wait_begin(struct gw_waiter *w, const char *sid)
{
	struct gw_waiter **b;

	pthread_mutex_lock(&wait_lock);
	wait_unlink(w);
	strncpy(w->sid, sid, SIO_SID_LEN);
	w->sid[SIO_SID_LEN] = '\0';
	b = wait_bucket(w->sid);
	w->hnext = *b;
	if (*b != NULL)
		(*b)->hprev = &w->hnext;
	w->hprev = b;
	*b = w;
	w->state = WAIT_BUSY;
	w->claimable = 0;
	pthread_mutex_unlock(&wait_lock);
	gw_wait_clear(w);
}

void
gw_wait_park(struct gw_waiter *w, long long conn, void *udata)
{
	pthread_mutex_lock(&wait_lock);
	w->conn = conn;
	w->udata = udata;
	w->claimable = 1;
	pthread_mutex_unlock(&wait_lock);
}

void
gw_wait_clear(struct gw_waiter *w)
{
	uint64_t v;

	while (read(w->fd, &v, sizeof(v)) == sizeof(v))
		;
}

/* Blocks until the eventfd is written (a claimer's gw_wait_answer()). */
static void
wait_ring_only(struct gw_waiter *w)
{
	struct pollfd p = {w->fd, POLLIN, 0};

	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	gw_wait_clear(w);
}

/* After the sleep: waits out a claimer, then takes the request back.
 * Returns GW_WAIT_ANSWERED when a claimer answered it. */
static int
wait_unpark(struct gw_waiter *w)
{
	int answered;

	pthread_mutex_lock(&wait_lock);
	while (w->state == WAIT_CLAIMED) {
		pthread_mutex_unlock(&wait_lock);
		wait_ring_only(w);
		pthread_mutex_lock(&wait_lock);
	}
	answered = w->state == WAIT_ANSWERED;
	w->state = WAIT_BUSY;
	pthread_mutex_unlock(&wait_lock);
	return answered ? GW_WAIT_ANSWERED : SIO_OK;
}

int
gw_wait_for(struct gw_waiter *w, int abort_fd, long long timeout_ms)
{
	struct pollfd p[2] = {{w->fd, POLLIN, 0},
	                      {abort_fd, POLLIN | POLLRDHUP, 0}};
	int n;

	if (timeout_ms > 1000000000LL)
		timeout_ms = 1000000000LL;
	pthread_mutex_lock(&wait_lock);
	if (w->claimable)
		w->state = WAIT_PARKED;
	pthread_mutex_unlock(&wait_lock);
	do
		n = poll(p, abort_fd >= 0 ? 2 : 1, (int)timeout_ms);
	while (n < 0 && errno == EINTR);
	if (wait_unpark(w) == GW_WAIT_ANSWERED)
		return GW_WAIT_ANSWERED;
	if (n < 0)
		return SIO_ERR;
	if (n == 0)
		return 0;
	if (abort_fd >= 0 && p[1].revents != 0)
		return SIO_ERR;
	return 1;
}

void
gw_wait_end(struct gw_waiter *w)
{
	pthread_mutex_lock(&wait_lock);
	wait_unlink(w);
	w->sid[0] = '\0';
	w->state = WAIT_IDLE;
	w->claimable = 0;
	pthread_mutex_unlock(&wait_lock);
}

void
gw_wait_ring(const char *sid)
{
	uint64_t one = 1;

	pthread_mutex_lock(&wait_lock);
	for (struct gw_waiter *w = sid != NULL ? *wait_bucket(sid) : wait_list;
	     w != NULL; w = sid != NULL ? w->hnext : w->next) {
		if (w->sid[0] == '\0' ||
		    (sid != NULL && strcmp(w->sid, sid) != 0))
			continue;
		if (write(w->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			break;
	}
	pthread_mutex_unlock(&wait_lock);
}

struct gw_waiter *
gw_wait_claim(const char *sid, long long *conn, void **udata)
{
	struct gw_waiter *w;

	pthread_mutex_lock(&wait_lock);
	for (w = *wait_bucket(sid); w != NULL; w = w->hnext)
		if (w->state == WAIT_PARKED && strcmp(w->sid, sid) == 0 &&
		    (*conn < 0 || w->conn == *conn))
			break;
	if (w != NULL) {
		w->state = WAIT_CLAIMED;
		*conn = w->conn;
		*udata = w->udata;
	}
	pthread_mutex_unlock(&wait_lock);
	return w;
}

void
gw_wait_answer(struct gw_waiter *w, int answered)
{
	uint64_t one = 1;

	pthread_mutex_lock(&wait_lock);
	w->state = answered ? WAIT_ANSWERED : WAIT_PARKED;
	/* Wakes the owner: to finish, or to look at the store itself (an
	 * eventfd write fails only at its 2^64-2 limit). */
	if (write(w->fd, &one, sizeof(one)) < 0) {
	}
	pthread_mutex_unlock(&wait_lock);
}
