/*
 * park.c: admission of the requests that keep a worker thread while they
 * wait (a long-poll GET, an htmlfile stream). Each holds one of the
 * gateway's `threads` for up to polling_duration (a stream: for its whole
 * life), so they are counted here: at most threads - reserved_threads of
 * them at once, which leaves the reserved threads to the requests that do
 * not wait (handshakes, POSTs, answers), and at most max_polls_per_address
 * from one client address, so that one client cannot take every place.
 * A request refused here is answered at once (503) and holds nothing.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

#define PARK_BUCKETS 256
#define PARK_ADDR_LEN 64 /* an IPv6 text address with a zone fits */

/* The parked requests of one address; freed when it has none. */
struct park_addr {
	char addr[PARK_ADDR_LEN];
	int n;
	struct park_addr *next;
};

static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static struct park_addr *park_table[PARK_BUCKETS];
static int park_total;

int
gw_park_max(void)
{
	int reserved = gw.cfg.reserved_threads;

	if (reserved < 0) /* the default: a quarter of them */
		reserved = gw.cfg.threads / 4;
	return gw.cfg.threads - reserved;
}

/* With park_lock held: addr's entry, its link in *prev. */
static struct park_addr **
park_find(const char *addr)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	struct park_addr **p;

	for (const unsigned char *c = (const unsigned char *)addr; *c; c++)
		h = (h ^ *c) * 16777619u;
	for (p = &park_table[h % PARK_BUCKETS]; *p != NULL; p = &(*p)->next)
		if (strcmp((*p)->addr, addr) == 0)
			break;
	return p;
}

/* The key of addr: NULL is "", a longer one is cut (consistently). */
static void
park_key(const char *addr, char key[PARK_ADDR_LEN])
{
	size_t n = addr != NULL ? strlen(addr) : 0;

	if (n >= PARK_ADDR_LEN)
		n = PARK_ADDR_LEN - 1;
	if (n > 0)
		memcpy(key, addr, n);
	key[n] = '\0';
}

int
gw_park_enter(const char *addr, int *parked)
{
	char key[PARK_ADDR_LEN];
	struct park_addr **p, *a;
	int rc = SIO_OK;

	park_key(addr, key);
	pthread_mutex_lock(&park_lock);
	p = park_find(key);
	a = *p;
	if (park_total >= gw_park_max())
		rc = SIO_ERR;
	else if (a != NULL && a->n >= gw.cfg.max_polls_per_address)
		rc = SIO_AGAIN;
	else if (a == NULL && (a = calloc(1, sizeof(*a))) == NULL)
		rc = SIO_ERR;
	else {
		if (*p == NULL) {
			memcpy(a->addr, key, sizeof(key));
			*p = a;
		}
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
	struct park_addr **p, *a;

	park_key(addr, key);
	pthread_mutex_lock(&park_lock);
	p = park_find(key);
	a = *p;
	if (a != NULL) {
		park_total--;
		if (--a->n == 0) {
			*p = a->next;
			free(a);
		}
	}
	pthread_mutex_unlock(&park_lock);
}
