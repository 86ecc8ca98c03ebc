/*
 * test_deliver.c: common/deliver.c, the delivery both daemons drive,
 * with two holders (two store connections, as two processes) over one
 * store: attach and the `1::` rule in both recording modes, take,
 * supersede, release, a take blocked behind another writer's packets,
 * and the closed-and-drained check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "deliver.h"
#include "session.h"

#define T0 1700000000000LL /* a fake "now" */

static char *tmp;
static struct sio_store *st1, *st2; /* the two holders' connections */

static struct sio_store *
open_store(void)
{
	struct sio_store_opts opts = {.synchronous = SIO_SYNC_NORMAL,
	                              .run_dir = tmp};
	char err[SIO_ERR_LEN] = "", *path = NULL;
	struct sio_store *s;

	if (tmp == NULL || asprintf(&path, "%s/deliver.db", tmp) < 0)
		return NULL;
	s = sio_store_open(path, &opts, err);
	if (s == NULL)
		fprintf(stderr, "open_store: %s\n", err);
	free(path);
	return s;
}

static void
setup(void)
{
	tmp = cu_tmpdir();
	st1 = open_store();
	st2 = open_store();
}

static void
teardown(void)
{
	sio_store_close(st1);
	sio_store_close(st2);
	st1 = st2 = NULL;
	cu_rmtree(tmp);
	free(tmp);
	tmp = NULL;
}

static int
take(struct sio_deliver *d, struct sio_store *s, struct cu_pkts *c)
{
	memset(c, 0, sizeof(*c));
	return sio_deliver_take(d, s, T0, 10, cu_collect, c);
}

static void
new_session(char sid[SIO_SID_LEN + 1])
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(st1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st2);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_new(st1, "{}", T0, sid),
	                      SIO_OK);
}

static void
put(const char *sid, const char *pkt)
{
	CU_ASSERT_EQUAL(sio_store_outbox_put(st1, sid, pkt, strlen(pkt), 0, 0),
	                SIO_OK);
}

/* The first attach says `1::`, the take passes it first and records it
 * (gateway timing): no later attach, on any holder, says it again. */
static void
test_hello_goes_first_once(void)
{
	struct sio_deliver a, b;
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c;

	new_session(sid);
	put(sid, "3:::x");
	sio_deliver_init(&a, sid, SIO_TRANSPORT_XHR_POLLING, "gw-1", 1,
	                 SIO_DELIVER_HELLO_AT_TAKE);
	CU_ASSERT_EQUAL(sio_deliver_attach(&a, st1, T0), SIO_OK);
	CU_ASSERT_EQUAL(a.hello, 1);
	CU_ASSERT_EQUAL(take(&a, st1, &c), 2);
	CU_ASSERT_STRING_EQUAL(c.got, "1::;3:::x;");
	CU_ASSERT_EQUAL(a.hello, 0);
	/* recorded with the take: a poll sent as soon as this one was read
	 * does not get it again */
	sio_deliver_init(&b, sid, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 1,
	                 SIO_DELIVER_HELLO_WRITTEN);
	CU_ASSERT_EQUAL(sio_deliver_attach(&b, st2, T0), SIO_OK);
	CU_ASSERT_EQUAL(b.hello, 0);
	CU_ASSERT_EQUAL(sio_deliver_written(&a, st1), SIO_OK);
	CU_ASSERT_EQUAL(take(&b, st2, &c), 0);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st1, sid), 0);
}

/* A write that failed takes the `1::` back (gateway timing), and its
 * packets go to the next holder, in order. */
static void
test_release_hands_back_hello_and_packets(void)
{
	struct sio_deliver a, b;
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c;

	new_session(sid);
	put(sid, "3:::x");
	put(sid, "3:::y");
	sio_deliver_init(&a, sid, SIO_TRANSPORT_HTMLFILE, "gw-1", 1,
	                 SIO_DELIVER_HELLO_AT_TAKE);
	CU_ASSERT_EQUAL(sio_deliver_attach(&a, st1, T0), SIO_OK);
	CU_ASSERT_EQUAL(take(&a, st1, &c), 3);
	CU_ASSERT_EQUAL(sio_deliver_release(&a, st1), SIO_OK);
	CU_ASSERT_EQUAL(a.hello, 1);
	sio_deliver_init(&b, sid, SIO_TRANSPORT_XHR_POLLING, "gw-2", 1,
	                 SIO_DELIVER_HELLO_AT_TAKE);
	CU_ASSERT_EQUAL(sio_deliver_attach(&b, st2, T0), SIO_OK);
	CU_ASSERT_EQUAL(b.hello, 1);
	CU_ASSERT_EQUAL(take(&b, st2, &c), 3);
	CU_ASSERT_STRING_EQUAL(c.got, "1::;3:::x;3:::y;");
	CU_ASSERT_EQUAL(sio_deliver_written(&b, st2), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st1, sid), 0);
}

/* sio-wsd's timing: the `1::` a take passed counts once its frame is
 * out, not before. */
static void
test_hello_recorded_when_written(void)
{
	struct sio_deliver a, b;
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c;

	new_session(sid);
	sio_deliver_init(&a, sid, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 1,
	                 SIO_DELIVER_HELLO_WRITTEN);
	CU_ASSERT_EQUAL(sio_deliver_attach(&a, st1, T0), SIO_OK);
	CU_ASSERT_EQUAL(take(&a, st1, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "1::;");
	sio_deliver_init(&b, sid, SIO_TRANSPORT_XHR_POLLING, "gw-1", 1,
	                 SIO_DELIVER_HELLO_AT_TAKE);
	CU_ASSERT_EQUAL(sio_deliver_attach(&b, st2, T0), SIO_OK);
	CU_ASSERT_EQUAL(b.hello, 1); /* not out yet */
	CU_ASSERT_EQUAL(sio_deliver_hello_written(&a, st1), SIO_OK);
	CU_ASSERT_EQUAL(sio_deliver_attach(&b, st2, T0), SIO_OK);
	CU_ASSERT_EQUAL(b.hello, 0);
	/* written after it records nothing twice, releases nothing */
	CU_ASSERT_EQUAL(sio_deliver_written(&a, st1), SIO_OK);
}

/* A second attach supersedes the first: the first no longer holds the
 * session, and its detach leaves the second attached. */
static void
test_attach_supersedes(void)
{
	struct sio_deliver a, b;
	char sid[SIO_SID_LEN + 1];

	new_session(sid);
	sio_deliver_init(&a, sid, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 1,
	                 SIO_DELIVER_HELLO_WRITTEN);
	sio_deliver_init(&b, sid, SIO_TRANSPORT_XHR_POLLING, "gw-1", 7,
	                 SIO_DELIVER_HELLO_AT_TAKE);
	CU_ASSERT_EQUAL(sio_deliver_attach(&a, st1, T0), SIO_OK);
	CU_ASSERT_EQUAL(sio_deliver_holds(&a, st1), SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(sio_deliver_attach(&b, st2, T0), SIO_OK);
	CU_ASSERT_EQUAL(sio_deliver_holds(&a, st1), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_deliver_holds(&b, st1), SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(sio_deliver_detach(&a, st1, T0), SIO_OK);
	CU_ASSERT_EQUAL(sio_deliver_holds(&b, st2), SIO_SESSION_OPEN);
	CU_ASSERT_EQUAL(sio_deliver_detach(&b, st2, T0), SIO_OK);
	CU_ASSERT_EQUAL(sio_deliver_holds(&b, st2), SIO_ABSENT);
	/* an unknown session does not attach */
	sio_deliver_init(&a, "nosuchsession", SIO_TRANSPORT_WEBSOCKET, "wsd-1",
	                 2, SIO_DELIVER_HELLO_WRITTEN);
	CU_ASSERT_EQUAL(sio_deliver_attach(&a, st1, T0), SIO_CLOSED);
}

/* Packets one holder took hold back another's take (and ready): nothing
 * goes out ahead of what may yet be handed back. */
static void
test_take_blocked_behind_another_writer(void)
{
	struct sio_deliver a, b;
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c;

	new_session(sid);
	put(sid, "3:::x");
	sio_deliver_init(&a, sid, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 1,
	                 SIO_DELIVER_HELLO_WRITTEN);
	sio_deliver_init(&b, sid, SIO_TRANSPORT_XHR_POLLING, "gw-1", 1,
	                 SIO_DELIVER_HELLO_AT_TAKE);
	CU_ASSERT_EQUAL(take(&a, st1, &c), 1);
	CU_ASSERT_EQUAL(a.blocked, 0);
	put(sid, "3:::y");
	CU_ASSERT_EQUAL(sio_deliver_ready(&b, st2, T0), 0);
	CU_ASSERT_EQUAL(b.blocked, 1);
	CU_ASSERT_EQUAL(take(&b, st2, &c), 0);
	CU_ASSERT_EQUAL(b.blocked, 1);
	/* the first is done: the second goes on with what follows */
	CU_ASSERT_EQUAL(sio_deliver_written(&a, st1), SIO_OK);
	CU_ASSERT_EQUAL(sio_deliver_ready(&b, st2, T0), 1);
	CU_ASSERT_EQUAL(take(&b, st2, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::y;");
	CU_ASSERT_EQUAL(b.blocked, 0);
	CU_ASSERT_EQUAL(sio_deliver_written(&b, st2), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st1, sid), 0);
}

/* A closed session is over for a holder only once its final packets are
 * out: not while another writer holds them, and not for a live one. */
static void
test_over_once_closed_and_drained(void)
{
	struct sio_deliver a, b;
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c;

	new_session(sid);
	sio_deliver_init(&a, sid, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 1,
	                 SIO_DELIVER_HELLO_WRITTEN);
	sio_deliver_init(&b, sid, SIO_TRANSPORT_HTMLFILE, "gw-1", 1,
	                 SIO_DELIVER_HELLO_AT_TAKE);
	CU_ASSERT_EQUAL(sio_deliver_over(&b, st2), 0);
	put(sid, "0::");
	CU_ASSERT_EQUAL(sio_session_claim_end(st1, sid, "test", T0), 1);
	CU_ASSERT_EQUAL(take(&a, st1, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.got, "0::;");
	CU_ASSERT_EQUAL(take(&b, st2, &c), 0);
	CU_ASSERT_EQUAL(sio_deliver_over(&b, st2), 0); /* behind a's */
	/* a's write fails: b gets them */
	CU_ASSERT_EQUAL(sio_deliver_release(&a, st1), SIO_OK);
	CU_ASSERT_EQUAL(take(&b, st2, &c), 1);
	/* what b took is b's to write: over says so, and b's socket
	 * closes once they are out */
	CU_ASSERT_EQUAL(sio_deliver_over(&b, st2), 1);
	CU_ASSERT_EQUAL(sio_deliver_written(&b, st2), SIO_OK);
	CU_ASSERT_EQUAL(take(&b, st2, &c), 0);
	CU_ASSERT_EQUAL(sio_deliver_over(&b, st2), 1);
	/* a session that is gone is over too */
	sio_deliver_init(&a, "nosuchsession", SIO_TRANSPORT_WEBSOCKET, "wsd-1",
	                 2, SIO_DELIVER_HELLO_WRITTEN);
	CU_ASSERT_EQUAL(sio_deliver_over(&a, st1), 1);
}

/* A delayed packet is not taken before it is due; next_due says when. */
static void
test_next_due_for_delayed_packets(void)
{
	struct sio_deliver a;
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c;
	long long due = 0;

	new_session(sid);
	sio_deliver_init(&a, sid, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 1,
	                 SIO_DELIVER_HELLO_WRITTEN);
	CU_ASSERT_EQUAL(sio_deliver_next_due(&a, st1, T0, &due), SIO_ABSENT);
	CU_ASSERT_EQUAL(
	    sio_store_outbox_put(st1, sid, "3:::late", 8, 0, T0 + 500), SIO_OK);
	CU_ASSERT_EQUAL(take(&a, st1, &c), 0);
	CU_ASSERT_EQUAL(sio_deliver_next_due(&a, st1, T0, &due), SIO_OK);
	CU_ASSERT_EQUAL(due, T0 + 500);
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(sio_deliver_take(&a, st1, T0 + 500, 10, cu_collect, &c),
	                1);
	CU_ASSERT_STRING_EQUAL(c.got, "3:::late;");
}

/* In one transaction of the caller's, as sio-wsd's batch runs them: a
 * rollback undoes the take, and the release puts the `1::` first again. */
static void
test_runs_inside_the_callers_transaction(void)
{
	struct sio_deliver a;
	char sid[SIO_SID_LEN + 1];
	struct cu_pkts c;

	new_session(sid);
	put(sid, "3:::x");
	sio_deliver_init(&a, sid, SIO_TRANSPORT_WEBSOCKET, "wsd-1", 1,
	                 SIO_DELIVER_HELLO_WRITTEN);
	CU_ASSERT_EQUAL_FATAL(sio_store_begin(st1), SIO_OK);
	CU_ASSERT_EQUAL(sio_deliver_attach(&a, st1, T0), SIO_OK);
	CU_ASSERT_EQUAL(take(&a, st1, &c), 2);
	CU_ASSERT_EQUAL(sio_store_in_transaction(st1), 1);
	CU_ASSERT_EQUAL(sio_store_rollback(st1), SIO_OK);
	CU_ASSERT_EQUAL(sio_deliver_release(&a, st1), SIO_OK);
	CU_ASSERT_EQUAL(a.hello, 1);
	CU_ASSERT_EQUAL(sio_deliver_attach(&a, st1, T0), SIO_OK);
	CU_ASSERT_EQUAL(take(&a, st1, &c), 2);
	CU_ASSERT_STRING_EQUAL(c.got, "1::;3:::x;");
	CU_ASSERT_EQUAL(sio_deliver_written(&a, st1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_count(st1, sid), 0);
}

int
main(void)
{
	static const struct cu_test tests[] = {
	    {"the first take passes 1:: once, recorded with the take",
	     test_hello_goes_first_once},
	    {"a release hands back 1:: and the packets, in order",
	     test_release_hands_back_hello_and_packets},
	    {"in sio-wsd's mode 1:: counts once its frame is written",
	     test_hello_recorded_when_written},
	    {"an attach supersedes the previous holder",
	     test_attach_supersedes},
	    {"a take stops behind another writer's packets",
	     test_take_blocked_behind_another_writer},
	    {"a closed session is over once its final packets are out",
	     test_over_once_closed_and_drained},
	    {"a delayed packet waits for its due time",
	     test_next_due_for_delayed_packets},
	    {"deliver runs inside the caller's transaction",
	     test_runs_inside_the_callers_transaction},
	    {NULL, NULL},
	};

	return cu_run("deliver", tests, setup, teardown);
}
