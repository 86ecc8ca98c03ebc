/*
 * conn.h: struct sio_conn, the handle a callback receives, shared by the
 * session engine (session.c, which makes them) and the application API
 * (conn.c, which acts on them). A callback runs with no store lock held:
 * the API reads the store directly and records its writes in the
 * engine's list of effects (effects.h). Not part of the public header.
 */
#ifndef SIO_CONN_H
#define SIO_CONN_H

#include "effects.h"
#include "request.h"
#include "session.h"
#include "siogate.h"

struct sio_conn {
	struct sio_session_ctx *ctx;
	const char *sid;
	const char *endpoint;
	const struct sio_app *app;
	long long now;
	long delay_ms;        /* set by sio_delay() */
	int close_requested;  /* set by sio_close() */
	int ack_requested;    /* the packet wants a data ack */
	long long ack_id;     /* its id, when ack_requested */
	int ack_deferred;     /* sio_conn_ack_defer(): no ack sent now */
	int connect_deferred; /* sio_conn_connect_defer(): no `1::/ep` now */
	const char *close_reason; /* during the root's on_close: why */
	const struct sio_request *open_req; /* during on_open */
	struct sio_request req;             /* loaded on demand */
	int req_loaded;
	int opening;            /* the root on_open: no row yet */
	struct sio_effects *fx; /* where writes go; borrowed */
};

/* A handle for (sid, endpoint) at time now, recording its writes in fx;
 * all borrowed. */
void sio_conn_init(struct sio_conn *c, struct sio_session_ctx *x,
                   struct sio_effects *fx, const char *sid,
                   const char *endpoint, const struct sio_app *app,
                   long long now);
void sio_conn_cleanup(struct sio_conn *c);

/*
 * Records a packet of type with id (-1 none) and data (may be NULL) on c's
 * endpoint for c's session, honouring the delay. SIO_OK; SIO_FULL when the
 * queue is full (as read at the start of the run, less what the run queued
 * since; noted in the context's err); SIO_ERR.
 */
int sio_conn_queue(struct sio_conn *c, int type, long long id, int data_ack,
                   const char *data, size_t len, int flags);

/*
 * For the bridge (bridge.c), whose answers come later, from another
 * request. sio_conn_ack_defer(): the engine sends no ack for the packet
 * being handled (the application answers it later with an ack action);
 * returns its id, or -1 when the client asked for none.
 * sio_conn_connect_defer(): during an endpoint's on_open, the engine
 * connects the endpoint but sends no `1::/ep` (the bridge sends it, or
 * refuses, when the application answered). sio_conn_close_reason(): in
 * on_close, why the session ended ("client disconnect", "heartbeat
 * timeout", ...), NULL for an endpoint's disconnect.
 */
long long sio_conn_ack_defer(struct sio_conn *c);
void sio_conn_connect_defer(struct sio_conn *c);
const char *sio_conn_close_reason(const struct sio_conn *c);

/* Records an event for the bridge's queue (its JSON, len bytes), written
 * with the run's other effects. SIO_OK or SIO_ERR. */
int sio_conn_bridge_put(struct sio_conn *c, const char *body, size_t len);

#endif
