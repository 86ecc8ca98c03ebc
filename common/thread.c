/*
 * thread.c: the daemons' helper threads, started with a small stack and
 * every signal blocked (thread.h). A new thread inherits the signal mask
 * of its creator, so the mask is set around pthread_create().
 */
#include <signal.h>

#include "thread.h"

int
sio_thread_start(void *(*fn)(void *), void *arg, size_t stack, pthread_t *tid)
{
	sigset_t all, old;
	pthread_attr_t a;
	pthread_t t;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&a);
	if (stack > 0)
		pthread_attr_setstacksize(&a, stack);
	if (tid == NULL)
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(tid != NULL ? tid : &t, &a, fn, arg);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
