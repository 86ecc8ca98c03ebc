/*
 * bridge.h: app = bridge (docs/bridge.md, "The bridge"), the built-in
 * application that hands a session's events to the user's own application
 * over HTTP. Its callbacks write each event as JSON to the session's queue
 * in the store (bridge_queue), with the run that caused it; a dispatcher in
 * each long-running process (sio-wsd's event loop, a thread of the FastCGI
 * gateway) and each CGI request after it answered takes a session's first
 * event, POSTs it signed to bridge_url without waiting on it, and, when the
 * answer comes, deletes the event and applies the answer's actions in one
 * transaction, then takes the session's next. One event of a session in
 * flight at a time, in order; sessions independent; a slow or broken
 * application costs a request slot and a log line, nothing else.
 */
#ifndef SIO_BRIDGE_H
#define SIO_BRIDGE_H

#include "config.h"
#include "siogate.h"
#include "store.h"

/*
 * The bridge application of cfg: the root and cfg->bridge_endpoints. It
 * lives as long as the process. NULL with the reason in err when an
 * endpoint is malformed or memory is short.
 */
const struct sio_plugin *sio_bridge_plugin(const struct sio_config *cfg,
                                           char *err);

struct sio_bridge;

/* Where the dispatcher's lines go (the program's log). */
typedef void (*sio_bridge_log_fn)(int level, const char *msg);

/*
 * A dispatcher for cfg (copied) and plugin (which outlives it) on store st (its
 * own: the dispatcher writes on it from the thread that runs it; NULL: given
 * later, before it runs) sending
 * requests as taker (the process name, SIO_HOLDER_LEN), on an lws context
 * of its own (lws 4.1 applies a context's one timeout_secs to a client
 * waiting for its answer: a slow application must not be cut short at a
 * server's 5 s). Nothing is sent until it runs: sio_bridge_start(), or
 * sio_bridge_service() calls. NULL with err on failure (a bridge_url
 * that does not parse).
 */
struct sio_bridge *sio_bridge_new(const struct sio_config *cfg,
                                  const struct sio_plugin *plugin,
                                  struct sio_store *st, const char *taker,
                                  sio_bridge_log_fn log, char *err);

/* Gives b its store (st NULL at sio_bridge_new(): a CGI request, whose
 * dispatcher runs in a process of its own, forked after the response). */
void sio_bridge_set_store(struct sio_bridge *b, struct sio_store *st);

/* Runs b in a thread of its own (sio-wsd, the FastCGI gateway): no event
 * loop and no request thread ever waits for the application. SIO_OK or
 * SIO_ERR (err). */
int sio_bridge_start(struct sio_bridge *b, char *err);

/* Stops b's thread if it runs, cancels what is in flight (the events are
 * taken again at once, here or elsewhere) and frees b. */
void sio_bridge_free(struct sio_bridge *b);

/*
 * Any thread: sid has a new event (the store's bridge hook, set on every
 * store a process writes with: sio_bridge_hook()). The dispatcher's next
 * run takes it; its loop is woken.
 */
void sio_bridge_kick(struct sio_bridge *b, const char *sid);

/* sio_store_set_bridge_hook(st, ...) kicking b. */
void sio_bridge_hook(struct sio_store *st, struct sio_bridge *b);

/*
 * The dispatcher's thread: takes the events kicked since the last run
 * (one per session, as long as requests are free) and, once a second,
 * scans the store for events nobody took (put by a process without a
 * dispatcher, released for a retry, or left by a process that died).
 * Returns how many requests are in flight.
 */
int sio_bridge_run(struct sio_bridge *b, long long now);

/*
 * Without sio_bridge_start() (a CGI request's sender): serves the
 * requests for at most timeout_ms, then, when take is set,
 * sio_bridge_run() (else only the requests in flight go on: a sender
 * near its end takes nothing it could not finish). Returns how many are
 * in flight, or SIO_ERR.
 */
int sio_bridge_service(struct sio_bridge *b, int timeout_ms, int take);

/* 1 when b has events kicked and not yet taken, or requests in flight. */
int sio_bridge_busy(struct sio_bridge *b);

#endif
