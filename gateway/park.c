/*
 * park.c: admission of the requests of each client address, and of the
 * requests that keep a worker thread while they wait (a long-poll GET, an
 * htmlfile stream). Every request in progress is counted by its address:
 * at most max_requests_per_address of them that do not wait (a slow body
 * holds a thread until body_timeout), and at most max_polls_per_address
 * that wait, so that one client cannot take every thread either way. The
 * waiting ones hold a thread for up to polling_duration (a stream: its
 * whole life), so at most threads - reserved_threads of them wait at once,
 * which leaves the reserved threads to the requests that do not wait
 * (handshakes, POSTs, answers). An address is a client: IPv4 by the whole
 * address, IPv6 by its /64 (what one host is given), an IPv4-mapped IPv6
 * address as the IPv4 one.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "hash.h"

#define PARK_BUCKETS 256
#define PARK_ADDR_LEN 64 /* an IPv6 text address with a zone fits */

/* The requests of one address in progress; freed when it has none. */
struct park_addr {
	char addr[PARK_ADDR_LEN];
	int busy; /* not waiting */
	int n;    /* waiting */
	struct park_addr *next;
};

static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static struct park_addr *park_table[PARK_BUCKETS];
static int park_total;

int
gw_park_max(void)
{
	int reserved = gw.cfg->reserved_threads;

	if (reserved < 0) /* the default: a quarter of them */
		reserved = gw.cfg->threads / 4;
	return gw.cfg->threads - reserved;
}

/* With park_lock held: addr's entry, its link in *prev. */
static struct park_addr **
park_find(const char *addr)
{
	struct park_addr **p;

	for (p = &park_table[sio_hash(addr) % PARK_BUCKETS]; *p != NULL;
	     p = &(*p)->next)
		if (strcmp((*p)->addr, addr) == 0)
			break;
	return p;
}

/* The key of addr: an IPv6 address's /64 ("a:b:c:d::/64"), an IPv4 one
 * (mapped or not) whole; NULL is "", other text is cut (consistently). */
static void
park_key(const char *addr, char key[PARK_ADDR_LEN])
{
	unsigned char a6[16];
	size_t n = addr != NULL ? strlen(addr) : 0;

	if (n > 0 && n < PARK_ADDR_LEN && strchr(addr, '%') == NULL &&
	    inet_pton(AF_INET6, addr, a6) == 1) {
		static const unsigned char mapped[12] = {
		    [10] = 0xff, [11] = 0xff};
		if (memcmp(a6, mapped, sizeof(mapped)) == 0)
			inet_ntop(AF_INET, a6 + 12, key, PARK_ADDR_LEN);
		else {
			memset(a6 + 8, 0, 8);
			inet_ntop(AF_INET6, a6, key, PARK_ADDR_LEN);
			strcat(key, "/64");
		}
		return;
	}
	if (n >= PARK_ADDR_LEN)
		n = PARK_ADDR_LEN - 1;
	if (n > 0)
		memcpy(key, addr, n);
	key[n] = '\0';
}

/* With park_lock held: frees a (linked at *p) once it has nothing. */
static void
park_put(struct park_addr **p, struct park_addr *a)
{
	if (a->busy == 0 && a->n == 0) {
		*p = a->next;
		free(a);
	}
}

int
gw_park_begin(const char *addr)
{
	char key[PARK_ADDR_LEN];
	struct park_addr **p, *a;
	int rc = SIO_OK;

	park_key(addr, key);
	pthread_mutex_lock(&park_lock);
	p = park_find(key);
	a = *p;
	/* never the reserved threads too: with few threads, one address
	 * could otherwise hold them all */
	if (a != NULL && (a->busy >= gw.cfg->max_requests_per_address ||
	                  a->busy >= gw_park_max()))
		rc = SIO_FULL;
	else if (a == NULL && (a = calloc(1, sizeof(*a))) == NULL)
		rc = SIO_ERR;
	else {
		if (*p == NULL) {
			memcpy(a->addr, key, sizeof(key));
			*p = a;
		}
		a->busy++;
	}
	pthread_mutex_unlock(&park_lock);
	return rc;
}

void
gw_park_end(const char *addr)
{
	char key[PARK_ADDR_LEN];
	struct park_addr **p;

	park_key(addr, key);
	pthread_mutex_lock(&park_lock);
	p = park_find(key);
	if (*p != NULL && (*p)->busy > 0) {
		(*p)->busy--;
		park_put(p, *p);
	}
	pthread_mutex_unlock(&park_lock);
}

int
gw_park_enter(const char *addr, int *parked)
{
	char key[PARK_ADDR_LEN];
	struct park_addr *a;
	int rc = SIO_OK;

	park_key(addr, key);
	pthread_mutex_lock(&park_lock);
	a = *park_find(key);
	if (a == NULL || a->busy == 0)
		rc = SIO_ERR; /* not begun: a caller's mistake */
	else if (a->n >= gw.cfg->max_polls_per_address)
		rc = SIO_FULL;
	else if (park_total >= gw_park_max())
		rc = SIO_ERR;
	else {
		a->busy--;
		a->n++;
		park_total++;
	}
	if (parked != NULL)
		*parked = park_total;
	pthread_mutex_unlock(&park_lock);
	return rc;
}

void
gw_park_leave(const char *addr)
{
	char key[PARK_ADDR_LEN];
	struct park_addr *a;

	park_key(addr, key);
	pthread_mutex_lock(&park_lock);
	a = *park_find(key);
	if (a != NULL && a->n > 0) {
		park_total--;
		a->n--;
		a->busy++;
	}
	pthread_mutex_unlock(&park_lock);
}
