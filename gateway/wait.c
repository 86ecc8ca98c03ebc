/*
 * wait.c: the table of requests parked on a session (an xhr/jsonp long poll
 * or an htmlfile stream). The dispatcher thread reads the process doorbell
 * and rings the waiters of that sid; the data_version check rings them all.
 * Each waiter owns an eventfd rather than a condition variable, so that one
 * poll() watches the ring and the FastCGI connection (client abort) at once.
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

struct gw_waiter {
	char sid[SIO_SID_LEN + 1]; /* "" when not waiting */
	int fd;                    /* eventfd, non-blocking */
	struct gw_waiter *next;
};

static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gw_waiter *wait_list; /* every thread's waiter, forever */
static _Thread_local struct gw_waiter *wait_self;

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
	pthread_mutex_lock(&wait_lock);
	strncpy(w->sid, sid, SIO_SID_LEN);
	w->sid[SIO_SID_LEN] = '\0';
	pthread_mutex_unlock(&wait_lock);
	gw_wait_clear(w);
}

void
gw_wait_clear(struct gw_waiter *w)
{
	uint64_t v;

	while (read(w->fd, &v, sizeof(v)) == sizeof(v))
		;
}

int
gw_wait_for(struct gw_waiter *w, int abort_fd, long long timeout_ms)
{
	struct pollfd p[2] = {{w->fd, POLLIN, 0}, {abort_fd, POLLIN | POLLRDHUP, 0}};
	int n;

	if (timeout_ms > 1000000000LL)
		timeout_ms = 1000000000LL;
	do
		n = poll(p, abort_fd >= 0 ? 2 : 1, (int)timeout_ms);
	while (n < 0 && errno == EINTR);
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
	w->sid[0] = '\0';
	pthread_mutex_unlock(&wait_lock);
}

void
gw_wait_ring(const char *sid)
{
	uint64_t one = 1;

	pthread_mutex_lock(&wait_lock);
	for (struct gw_waiter *w = wait_list; w != NULL; w = w->next) {
		if (w->sid[0] == '\0' || (sid != NULL && strcmp(w->sid, sid) != 0))
			continue;
		if (write(w->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			break;
	}
	pthread_mutex_unlock(&wait_lock);
}
