/*
 * effects.h: what application code did while it ran, kept as a list and
 * written to the store after it returned. The session engine (session.c)
 * runs a callback with no store lock held: the API of conn.c reads the
 * store as it is (a moment old) and records its writes here; the engine
 * then applies the list in order inside the write transaction, together
 * with the state change that caused it, or drops it whole. Not part of the
 * public header.
 */
#ifndef SIO_EFFECTS_H
#define SIO_EFFECTS_H

#include <stddef.h>

#include "siogate.h"
#include "store.h"

enum sio_effect_kind {
	SIO_FX_PUT,          /* a packet for the session: a (alen bytes) */
	SIO_FX_EMIT_ACK,     /* an event awaiting an ack on ep: a the handler,
	                        b the event body; its id is allocated when
	                        applied */
	SIO_FX_BROADCAST,    /* a packet to ep's sessions or b's room; flags
	                        SIO_FX_EXCLUDE_SELF */
	SIO_FX_DATA,         /* data key a set to b (NULL: deleted) */
	SIO_FX_JOIN,         /* room a of ep */
	SIO_FX_LEAVE,        /* room a of ep */
	SIO_FX_ENDPOINT_ADD, /* ep connected with query a */
	SIO_FX_ENDPOINT_DEL, /* ep disconnected, with its rooms */
	SIO_FX_ACK_TAKE,     /* the client's ack id on ep; the skip effects
	                        after it are its handler's */
	SIO_FX_END,          /* the session ends: reason a; flags
	                        SIO_FX_FORGET */
	SIO_FX_BRIDGE,       /* an event for the bridge's queue: a (alen
	                        bytes) its JSON, id the queue's limit */
};

#define SIO_FX_EXCLUDE_SELF 0x100
#define SIO_FX_FORGET 0x200

struct sio_effect {
	enum sio_effect_kind kind;
	char *ep, *a, *b; /* the list's; NULL when unused */
	size_t alen;
	int flags;     /* SIO_STORE_VOLATILE and the SIO_FX_ flags above */
	long long id;  /* SIO_FX_ACK_TAKE */
	long long due; /* packets: ms since the epoch, 0 at once */
	size_t skip;   /* SIO_FX_ACK_TAKE */
};

/* A chunk of the strings of a list's effects (effects.c). */
struct sio_fx_mem;

/* The first effects and their strings live in the list itself, so that
 * a run of a packet or two (an echo, an ack) allocates nothing. */
#define SIO_FX_FEW 4
#define SIO_FX_FEW_BYTES 256

/* A list of effects and what its run read of the session's queue;
 * caller-owned, not to be copied or moved once initialised (v and the
 * strings may point into it). */
struct sio_effects {
	struct sio_effect *v; /* few, or allocated when more are added */
	size_t n, cap;
	int room;           /* packets the queue still takes; -1 not read yet */
	int attached;       /* a transport was attached when room was read */
	long long received; /* packets of the run, counted when applied */
	struct sio_effect few[SIO_FX_FEW];
	struct sio_fx_mem *mem; /* chunks of strings past few_bytes */
	size_t few_used;
	char few_bytes[SIO_FX_FEW_BYTES];
};

void sio_effects_init(struct sio_effects *fx);
void sio_effects_cleanup(struct sio_effects *fx);

/* Drops the effects from index n on (an endpoint's refused on_open); their
 * strings are given back by sio_effects_cleanup(). */
void sio_effects_truncate(struct sio_effects *fx, size_t n);

/*
 * Appends an effect, copying ep, a (alen bytes) and b (each may be NULL).
 * Returns it (valid until the next append), or NULL when out of memory
 * (nothing is appended).
 */
struct sio_effect *sio_effects_add(struct sio_effects *fx,
                                   enum sio_effect_kind kind, const char *ep,
                                   const char *a, size_t alen, const char *b);

/* Removes effect i (its strings stay until sio_effects_cleanup()). */
void sio_effects_remove(struct sio_effects *fx, size_t i);

/*
 * Read-your-writes for a run. sio_effects_data(): 1 when fx sets key (its
 * value, or NULL for deleted, in *value, borrowed), 0 when fx leaves it.
 * sio_effects_endpoint(): 1 when fx connects ep, 0 when it disconnects
 * it, -1 when it does neither. sio_effects_ack_taken(): 1 when fx takes
 * the client's ack id on ep, else 0.
 */
int sio_effects_data(const struct sio_effects *fx, const char *key,
                     const char **value);
int sio_effects_endpoint(const struct sio_effects *fx, const char *ep);
int sio_effects_ack_taken(const struct sio_effects *fx, const char *ep,
                          long long id);

/*
 * Writes fx for session sid, in order, inside the caller's transaction.
 * Stops at an SIO_FX_END, which it points *end at (else NULL): claiming the
 * end is the engine's. ended: sid is closed already (on_close ran after the
 * end was claimed): only broadcasts and bridge events are applied. A packet
 * over the queue limit is dropped and described in err (SIO_ERR_LEN), as is an
 * ack another process took first, with its handler's effects. SIO_OK or
 * SIO_ERR.
 */
int sio_effects_apply(const struct sio_effects *fx, size_t from,
                      struct sio_store *st, const char *sid, int ended,
                      const struct sio_effect **end, char *err);

/*
 * When fx starts with a packet for sid itself and holds no end, writes
 * that packet as the check that sid is still live (the put refuses a
 * closed or absent session), so that the caller reads nothing before:
 * SIO_OK (written, or dropped as over the queue limit and described in
 * err; apply the rest from 1), SIO_CLOSED (nothing written), SIO_ERR.
 * SIO_ABSENT when fx does not start so: the caller checks sid itself.
 */
int sio_effects_put_first(const struct sio_effects *fx, struct sio_store *st,
                          const char *sid, char *err);

#endif
