/*
 * fixture.h: the test transport that the engine's suites (test_conn.c,
 * test_session.c) share. fixture_setup() makes a temporary directory, a
 * real store in it with the holder "test" registered, and the engine's
 * context x over it; a test then opens sessions, feeds packets as a
 * client would and reads back what the server queued. The suite's own
 * application goes in x.plugin. The variables below are the suite's
 * state, reset by fixture_setup().
 */
#ifndef SIO_TEST_FIXTURE_H
#define SIO_TEST_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "session.h"
#include "store.h"

#define T0 1700000000000LL /* a fake "now" */

extern char *dir;                /* the test's temporary directory */
extern struct sio_store *st;     /* the store in dir */
extern struct sio_config cfg;    /* the defaults */
extern struct sio_session_ctx x; /* the engine over st and cfg */
extern long long now;            /* the wall clock the tests give */
extern long long step_ms;        /* how far the boot clock lags now */

/* Runs before each test: dir, cfg, x with plugin (borrowed), now = T0,
 * and the store of fixture_open_store(0). */
void fixture_setup(const struct sio_plugin *plugin);

/* Closes st and removes dir. */
void fixture_teardown(void);

/* Opens st (and x.store) on a database of its own for a queue limit of
 * max_queue packets (0: SIO_MAX_QUEUE, dir/siogate.db) and registers
 * the holder "test"; the caller closes the previous st first. */
void fixture_open_store(int max_queue);

/* Handshakes from 127.0.0.1 with query q (may be NULL) and attaches the
 * test transport (xhr-polling, holder "test"), as a GET would. */
void open_session(char sid[SIO_SID_LEN + 1], const char *q);

/* Feeds one packet as a client would; sio_session_receive's result. */
int feed(const char *sid, const char *pkt);

/* What the server queued for sid since the last drain, one packet a
 * line, deleted from the outbox; the caller frees with free(). */
char *drain(const char *sid);

/* Checks that the packets queued for sid since the last drain are want,
 * and says what came instead when not. */
#define EXPECT(sid, want)                                                      \
	do {                                                                   \
		char *got_ = drain(sid);                                       \
		CU_ASSERT_STRING_EQUAL(got_, want);                            \
		if (strcmp(got_, want) != 0)                                   \
			fprintf(stderr, "\n  got  [%s]\n  want [%s]\n", got_,  \
			        want);                                         \
		free(got_);                                                    \
	} while (0)

#endif
