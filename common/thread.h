/*
 * thread.h: starting the daemons' helper threads (the gateway's workers,
 * dispatcher and ticker; sio-wsd's checkpointer) one way: a small stack,
 * and every signal blocked, so that signals go to the thread that waits
 * for them (the gateway's sigwait(), sio-wsd's event loop).
 */
#ifndef SIO_THREAD_H
#define SIO_THREAD_H

#include <pthread.h>
#include <stddef.h>

/* The daemons' thread stack: their threads keep little on it (a request
 * reads its body in 1 KiB chunks), and a thousand parked polls are a
 * thousand threads. */
#define SIO_THREAD_STACK (256 * 1024)

/*
 * Starts fn(arg) on a new thread with a stack of stack bytes (0: the
 * system's default) and every signal blocked: detached when tid is NULL,
 * else joinable into *tid. The caller's signal mask is unchanged. Returns
 * 0, or pthread_create()'s error number.
 */
int sio_thread_start(void *(*fn)(void *), void *arg, size_t stack,
                     pthread_t *tid);

#endif
