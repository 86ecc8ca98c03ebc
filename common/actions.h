/*
 * actions.h: what an application outside siogate asks it to do, as JSON
 * actions ({"do": "emit", ...}), and the one path by which packets are
 * queued from outside a session's callbacks: the gateway's publish
 * endpoint (POST /<resource>/publish), the bridge's responses, and
 * sioctl send and emit. The format is docs/bridge.md's. A body is
 * parsed and every action checked before anything is written; then the
 * actions apply in order, in one store transaction, and the store rings
 * the holders of the sessions that got packets after the commit.
 */
#ifndef SIO_ACTIONS_H
#define SIO_ACTIONS_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "session.h"
#include "store.h"

#define SIO_ACTIONS_MAX_NAME 256        /* bytes of a room or a data key */
#define SIO_ACTIONS_MAX_VALUE 65536     /* bytes of a set's value */
#define SIO_ACTIONS_MAX_DISCONNECTS 100 /* disconnect actions per body */

/* sio_actions_queue(): the session is not connected to the endpoint (a
 * private result, as siogate.h allows: never one of its codes). */
enum sio_actions_result { SIO_ACTIONS_NOT_CONNECTED = -100 };

struct sio_actions; /* a parsed, checked list of actions */

/*
 * Parses a body {"actions": [...]} (docs/bridge.md). self_sid: NULL for
 * publish (an action without sid or room targets its endpoint); a session
 * id for the bridge's responses (then such an action targets that session
 * unless it says "broadcast": true, a field refused without self_sid).
 * Packets are checked against SIO_MAX_PACKET (sio_actions_parse_max()
 * takes the configured max_packet). Returns SIO_OK with *out (caller
 * frees with sio_actions_free()); SIO_ERR with the reason in err ("action
 * 3: emit needs a name", "not JSON: ...", "body needs an actions array"),
 * nothing allocated; SIO_TOO_BIG (reason in err) when there are more than
 * max actions or SIO_ACTIONS_MAX_DISCONNECTS disconnects.
 */
int sio_actions_parse(const char *body, size_t len, size_t max,
                      const char *self_sid, struct sio_actions **out,
                      char *err);

/* sio_actions_parse() refusing a packet over max_packet bytes ("action 0:
 * packet of 2000000 bytes, over max_packet 1048576"). */
int sio_actions_parse_max(const char *body, size_t len, size_t max,
                          size_t max_packet, const char *self_sid,
                          struct sio_actions **out, char *err);

/* The event a bridge response answers (docs/bridge.md, "The bridge"). */
struct sio_actions_self {
	const char *sid;      /* the event's session: an action's default */
	const char *endpoint; /* the event's endpoint: an action's default */
	long long ack;        /* the client's ack id; -1: an ack is refused */
	int may_reject;       /* an open or a connect: reject is allowed */
};

/* sio_actions_parse_max() of a bridge response to the event self (NULL
 * as a publish body): actions default to self's endpoint; "ack" (at most
 * one, when self->ack >= 0) and "reject" (when self->may_reject) are
 * allowed. */
int sio_actions_parse_self(const char *body, size_t len, size_t max,
                           size_t max_packet,
                           const struct sio_actions_self *self,
                           struct sio_actions **out, char *err);

/* 1 when a holds a reject action, else 0. */
int sio_actions_rejected(const struct sio_actions *a);

/* sio_actions_apply() inside the caller's open transaction (the bridge
 * deletes the event it answers in the same one). SIO_OK, or SIO_ERR (the
 * caller rolls back). */
int sio_actions_apply_locked(struct sio_session_ctx *x,
                             const struct sio_actions *a, json_t *results);

size_t sio_actions_count(const struct sio_actions *a);

/*
 * Applies a in order, every action but disconnect, in ONE store
 * transaction opened here (no transaction may be open on x). Fills
 * results (an empty JSON array) with one object per action: {"queued": n}
 * (and "dropped": 1 when the session's full queue dropped it), {"done":
 * true}, or {"error": "no such session"} ("endpoint not connected",
 * "packet too big": over x->cfg->max_packet), and null in a disconnect's
 * place. A broadcast counts the sessions it reached; full queues are
 * passed over, uncounted. A volatile packet for a session with no
 * transport attached is {"queued": 0}. SIO_OK, or SIO_ERR when the store
 * failed (sio_store_errmsg() tells; nothing was applied, results left
 * empty).
 */
int sio_actions_apply(struct sio_session_ctx *x, const struct sio_actions *a,
                      json_t *results);

/* 1 when action i of a is a disconnect, else 0. */
int sio_actions_is_disconnect(const struct sio_actions *a, size_t i);

/*
 * Runs disconnect action i of a, after sio_actions_apply() filled results:
 * sio_session_end() (the root: reason "published") or
 * sio_session_close_endpoint(), which run the application's on_close; so
 * that one request does not hold a writer through them all, the caller
 * takes it around each. Sets results[i] to {"done": true}, {"error": "no
 * such session"}, {"error": "endpoint not connected"} or {"error": "store
 * failed"}. SIO_OK; SIO_ERR when i is not a disconnect of a or out of
 * memory. No transaction may be open on x.
 */
int sio_actions_disconnect(struct sio_session_ctx *x,
                           const struct sio_actions *a, size_t i, long long now,
                           json_t *results);

void sio_actions_free(struct sio_actions *a);

/* --- the pieces sioctl shares -------------------------------------------- */

/* Where a packet goes: one session, a room of an endpoint, or every
 * session connected to the endpoint. */
struct sio_actions_target {
	const char *sid;      /* NULL unless one session */
	const char *room;     /* NULL unless a room */
	const char *endpoint; /* "" is the root */
	const char *exclude;  /* room or endpoint: a session left out; NULL */
};

/* 1 when s has the form of the session ids siogate makes (SIO_SID_LEN
 * base64url characters), else 0. */
int sio_actions_sid_form(const char *s);

/*
 * Appends the packet of type (SIO_PKT_MESSAGE, SIO_PKT_JSON,
 * SIO_PKT_EVENT) with data (len bytes) on endpoint to b: SIO_OK; SIO_ERR
 * with the reason in err (b unchanged) when the endpoint cannot be
 * encoded, the packet is not valid UTF-8 (a packet no transport can carry
 * would hold back its session's queue) or is over max_packet bytes.
 */
int sio_actions_encode(struct sio_buf *b, int type, const char *endpoint,
                       const char *data, size_t len, size_t max_packet,
                       char *err);

/*
 * Appends an event body {"name":..,"args":[..]} to b; args borrowed, may
 * be NULL. SIO_OK; SIO_ERR with the reason in err (b unchanged) when the
 * name is empty, over SIO_MAX_EVENT_NAME bytes or not valid UTF-8.
 */
int sio_actions_event(struct sio_buf *b, const char *name, json_t *args,
                      char *err);

/*
 * Queues packet pkt (len bytes, flags SIO_STORE_VOLATILE or 0) for t.
 * Returns how many sessions got it (a session target: 1, or 0 for a
 * volatile packet with no transport attached); as the store, SIO_ABSENT
 * when t->sid is unknown and SIO_CLOSED when it has ended;
 * SIO_ACTIONS_NOT_CONNECTED when it is not connected to t->endpoint;
 * SIO_FULL when its queue is full (nothing queued); SIO_ERR when the store
 * failed (sio_store_errmsg() tells).
 */
int sio_actions_queue(struct sio_store *st, const struct sio_actions_target *t,
                      const char *pkt, size_t len, int flags);

#endif
