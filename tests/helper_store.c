/*
 * helper_store.c: a second process for tests/test_store.c. It opens the
 * database given on the command line, waits until its standard input
 * reaches end of file (the test closes the pipe to start every helper at
 * once), then does one job:
 *
 *   helper_store append DB SID PREFIX COUNT   queue "PREFIX:<i>" for i in
 *                                             0..COUNT-1, one transaction
 *                                             each (COUNT 0: forever)
 *   helper_store end DB SID                   race to end SID; prints
 *                                             "claimed" or "not claimed"
 *
 * It exits 0 on success, 1 with a message on standard error otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "session.h"

static void
helper_barrier(void)
{
	char c;

	while (read(0, &c, 1) > 0)
		;
}

static int
helper_append(struct sio_store *st, const char *sid, const char *prefix,
              long count)
{
	char pkt[64];
	long i;
	int n;

	for (i = 0; count == 0 || i < count; i++) {
		n = snprintf(pkt, sizeof(pkt), "%s:%ld", prefix, i);
		if (sio_store_outbox_put(st, sid, pkt, (size_t)n, 0, 0) !=
		    SIO_OK) {
			fprintf(stderr, "helper_store: put %s: %s\n", pkt,
			        sio_store_errmsg(st));
			return 1;
		}
	}
	return 0;
}

static int
helper_end(struct sio_store *st, const char *sid)
{
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	rc = sio_session_claim_end(st, sid, "race",
	                           (long long)ts.tv_sec * 1000 +
	                               ts.tv_nsec / 1000000);
	if (rc < 0) {
		fprintf(stderr, "helper_store: end: %s\n",
		        sio_store_errmsg(st));
		return 1;
	}
	printf("%s\n", rc == 1 ? "claimed" : "not claimed");
	return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct sio_store_opts opts = {
	    .synchronous = SIO_SYNC_NORMAL,
	    .busy_timeout_ms = 60000, /* the other writers may hog the lock */
	    .max_queue = 1 << 30,
	};
	struct sio_store *st;
	char err[SIO_ERR_LEN];
	int rc;

	if (argc < 4 || (strcmp(argv[1], "append") == 0 && argc != 6)) {
		fprintf(stderr, "usage: helper_store append DB SID PREFIX COUNT"
		                " | end DB SID\n");
		return 1;
	}
	st = sio_store_open(argv[2], &opts, err);
	if (st == NULL) {
		fprintf(stderr, "helper_store: %s\n", err);
		return 1;
	}
	helper_barrier();
	if (strcmp(argv[1], "append") == 0)
		rc = helper_append(st, argv[3], argv[4], atol(argv[5]));
	else
		rc = helper_end(st, argv[3]);
	sio_store_close(st);
	return rc;
}
