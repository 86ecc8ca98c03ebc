/*
 * test_thread.c: the thread start suite: the new thread has every signal
 * blocked and the stack asked for, the caller's mask is unchanged, and
 * with a tid the thread is joinable.
 */
#include <signal.h>
#include <string.h>

#include "cu.h"
#include "thread.h"

struct seen {
	int term_blocked, hup_blocked;
	size_t stack;
};

static void *
look(void *arg)
{
	struct seen *s = arg;
	pthread_attr_t a;
	sigset_t mask;

	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	s->term_blocked = sigismember(&mask, SIGTERM);
	s->hup_blocked = sigismember(&mask, SIGHUP);
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstacksize(&a, &s->stack);
		pthread_attr_destroy(&a);
	}
	return s;
}

static void
test_blocked_and_joinable(void)
{
	struct seen s;
	sigset_t before, after;
	pthread_t t;
	void *ret = NULL;

	memset(&s, 0, sizeof(s));
	pthread_sigmask(SIG_BLOCK, NULL, &before);
	CU_ASSERT_EQUAL_FATAL(sio_thread_start(look, &s, SIO_THREAD_STACK, &t),
	                      0);
	CU_ASSERT_EQUAL_FATAL(pthread_join(t, &ret), 0);
	CU_ASSERT_PTR_EQUAL(ret, &s);
	CU_ASSERT_EQUAL(s.term_blocked, 1);
	CU_ASSERT_EQUAL(s.hup_blocked, 1);
	CU_ASSERT_EQUAL(s.stack, SIO_THREAD_STACK);
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	CU_ASSERT_EQUAL(sigismember(&after, SIGTERM),
	                sigismember(&before, SIGTERM));
	CU_ASSERT_EQUAL(sigismember(&after, SIGHUP),
	                sigismember(&before, SIGHUP));
}

static void
test_default_stack(void)
{
	struct seen s;
	pthread_t t;

	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(sio_thread_start(look, &s, 0, &t), 0);
	CU_ASSERT_EQUAL(pthread_join(t, NULL), 0);
	CU_ASSERT_TRUE(s.stack > 0);
	CU_ASSERT_EQUAL(s.term_blocked, 1);
}

static const struct cu_test tests[] = {
    {"thread start blocks every signal, sizes the stack, joins with a tid",
     test_blocked_and_joinable},
    {"thread start with stack 0 takes the system's default",
     test_default_stack},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("thread", tests, NULL, NULL);
}
