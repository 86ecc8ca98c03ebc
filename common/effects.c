/*
 * effects.c: the list of what a callback did (see effects.h) and how each
 * kind lands in the store. Each kind is written by one small function so
 * that a change of a store call stays in one place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "effects.h"
#include "store_ops.h"
#include "packet.h"
#include "result.h"

/* A chunk of strings: filled from the front, freed whole. */
struct sio_fx_mem {
	struct sio_fx_mem *next;
	size_t used, size;
	char bytes[];
};

void
sio_effects_init(struct sio_effects *fx)
{
	fx->v = fx->few;
	fx->n = 0;
	fx->cap = SIO_FX_FEW;
	fx->room = -1;
	fx->attached = 0;
	fx->received = 0;
	fx->mem = NULL;
	fx->few_used = 0;
}

void
sio_effects_truncate(struct sio_effects *fx, size_t n)
{
	if (fx->n > n)
		fx->n = n;
}

void
sio_effects_remove(struct sio_effects *fx, size_t i)
{
	if (i >= fx->n)
		return;
	memmove(&fx->v[i], &fx->v[i + 1], (fx->n - i - 1) * sizeof(fx->v[0]));
	fx->n--;
}

void
sio_effects_cleanup(struct sio_effects *fx)
{
	struct sio_fx_mem *m, *next;

	for (m = fx->mem; m != NULL; m = next) {
		next = m->next;
		free(m);
	}
	if (fx->v != fx->few)
		free(fx->v);
	sio_effects_init(fx);
}

/* len bytes of fx's strings: in few_bytes, the newest chunk, or a new one
 * (4 KiB, or the string's size when larger). NULL when out of memory. */
static char *
effect_mem(struct sio_effects *fx, size_t len)
{
	struct sio_fx_mem *m = fx->mem;
	size_t size;
	char *p;

	if (len <= sizeof(fx->few_bytes) - fx->few_used) {
		p = fx->few_bytes + fx->few_used;
		fx->few_used += len;
		return p;
	}
	if (m == NULL || len > m->size - m->used) {
		size = len > 4096 - sizeof(*m) ? len : 4096 - sizeof(*m);
		if ((m = malloc(sizeof(*m) + size)) == NULL)
			return NULL;
		m->used = 0;
		m->size = size;
		m->next = fx->mem;
		fx->mem = m;
	}
	p = m->bytes + m->used;
	m->used += len;
	return p;
}

static char *
effect_dup(struct sio_effects *fx, const char *s, size_t len, int *failed)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = effect_mem(fx, len + 1)) == NULL) {
		*failed = 1;
		return NULL;
	}
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

struct sio_effect *
sio_effects_add(struct sio_effects *fx, enum sio_effect_kind kind,
                const char *ep, const char *a, size_t alen, const char *b)
{
	struct sio_effect *e, *v;
	int failed = 0;

	if (fx->n == fx->cap) {
		size_t cap = fx->cap * 2;
		if (fx->v == fx->few) {
			if ((v = malloc(cap * sizeof(*v))) != NULL)
				memcpy(v, fx->few, fx->n * sizeof(*v));
		} else {
			v = realloc(fx->v, cap * sizeof(*v));
		}
		if (v == NULL)
			return NULL;
		fx->v = v;
		fx->cap = cap;
	}
	e = &fx->v[fx->n];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ep = effect_dup(fx, ep, ep ? strlen(ep) : 0, &failed);
	e->a = effect_dup(fx, a, alen, &failed);
	e->alen = alen;
	e->b = effect_dup(fx, b, b ? strlen(b) : 0, &failed);
	if (failed)
		return NULL; /* what was taken of the strings stays unused */
	fx->n++;
	return e;
}

int
sio_effects_data(const struct sio_effects *fx, const char *key,
                 const char **value)
{
	for (size_t i = fx->n; i-- > 0;)
		if (fx->v[i].kind == SIO_FX_DATA &&
		    strcmp(fx->v[i].a, key) == 0) {
			*value = fx->v[i].b;
			return 1;
		}
	return 0;
}

int
sio_effects_endpoint(const struct sio_effects *fx, const char *ep)
{
	for (size_t i = fx->n; i-- > 0;) {
		const struct sio_effect *e = &fx->v[i];
		if ((e->kind == SIO_FX_ENDPOINT_ADD ||
		     e->kind == SIO_FX_ENDPOINT_DEL) &&
		    strcmp(e->ep, ep) == 0)
			return e->kind == SIO_FX_ENDPOINT_ADD;
	}
	return -1;
}

int
sio_effects_ack_taken(const struct sio_effects *fx, const char *ep,
                      long long id)
{
	for (size_t i = 0; i < fx->n; i++)
		if (fx->v[i].kind == SIO_FX_ACK_TAKE && fx->v[i].id == id &&
		    strcmp(fx->v[i].ep, ep) == 0)
			return 1;
	return 0;
}

/* --- applying ----------------------------------------------------------- */

static void
effect_note(char *err, const char *what, const struct sio_effect *e)
{
	if (err != NULL && err[0] == '\0')
		sio_err(err, "%s%s%s", what, e->ep && e->ep[0] ? " on " : "",
		        e->ep ? e->ep : "");
}

/* One packet for sid at its due time. SIO_OK, SIO_FULL, SIO_ERR. */
static int
effect_put(struct sio_store *st, const char *sid, const char *pkt, size_t len,
           int flags, long long due)
{
	int rc = sio_store_outbox_put(st, sid, pkt, len, flags, due);

	/* the session was checked in this transaction: absent is a failure */
	return rc == SIO_ABSENT || rc == SIO_CLOSED ? SIO_ERR : rc;
}

static int
effect_broadcast(struct sio_store *st, const char *sid,
                 const struct sio_effect *e)
{
	int rc = sio_store_outbox_broadcast(
	    st, e->ep, e->b, (e->flags & SIO_FX_EXCLUDE_SELF) ? sid : NULL,
	    e->a, e->alen, 0, e->due);

	return rc < 0 ? SIO_ERR : SIO_OK;
}

/* `5:<id>+:ep:body`: the id is the session's next, taken now. */
static int
effect_emit_ack(struct sio_store *st, const char *sid,
                const struct sio_effect *e, char *err)
{
	struct sio_packet p;
	struct sio_buf b;
	char *handler = NULL, *event = NULL;
	long long id;
	int rc;

	id = sio_store_ack_new(st, sid, e->ep, e->a, e->b);
	if (id < 0)
		return SIO_ERR;
	sio_packet_init(&p, SIO_PKT_EVENT);
	p.id = id;
	p.data_ack = 1;
	p.endpoint = e->ep;
	p.endpoint_len = strlen(e->ep);
	p.data = e->b;
	p.data_len = strlen(e->b);
	sio_buf_init(&b);
	rc = sio_packet_encode(&b, &p);
	if (rc == SIO_OK)
		rc = effect_put(st, sid, b.p, b.len, e->flags & 0xff, e->due);
	sio_buf_cleanup(&b);
	if (rc == SIO_FULL) { /* no ack can come for it */
		effect_note(err, "queue full, packet dropped", e);
		rc = sio_store_ack_take(st, sid, e->ep, id, &handler, &event);
		free(handler);
		free(event);
	}
	return rc == SIO_ERR ? SIO_ERR : SIO_OK;
}

static int
effect_endpoint_del(struct sio_store *st, const char *sid, const char *ep)
{
	if (sio_store_endpoint_del(st, sid, ep) != SIO_OK ||
	    sio_store_room_leave(st, sid, ep, NULL) != SIO_OK)
		return SIO_ERR;
	return SIO_OK;
}

/* The client's ack: taken once. SIO_OK, SIO_ABSENT when another process
 * took it first (its handler's effects are then dropped), SIO_ERR. */
static int
effect_ack_take(struct sio_store *st, const char *sid,
                const struct sio_effect *e, char *err)
{
	char *handler = NULL, *event = NULL;
	int rc = sio_store_ack_take(st, sid, e->ep, e->id, &handler, &event);

	free(handler);
	free(event);
	if (rc == SIO_ABSENT)
		effect_note(err, "ack taken by another process", e);
	return rc;
}

static int
effect_apply(const struct sio_effect *e, struct sio_store *st, const char *sid,
             char *err)
{
	int rc;

	switch (e->kind) {
	case SIO_FX_PUT:
		rc =
		    effect_put(st, sid, e->a, e->alen, e->flags & 0xff, e->due);
		if (rc == SIO_FULL) {
			effect_note(err, "queue full, packet dropped", e);
			rc = SIO_OK;
		}
		return rc;
	case SIO_FX_EMIT_ACK:
		return effect_emit_ack(st, sid, e, err);
	case SIO_FX_BROADCAST:
		return effect_broadcast(st, sid, e);
	case SIO_FX_DATA:
		return sio_store_data_put(st, sid, e->a, e->b);
	case SIO_FX_JOIN:
		return sio_store_room_join(st, sid, e->ep, e->a);
	case SIO_FX_LEAVE:
		return sio_store_room_leave(st, sid, e->ep, e->a);
	case SIO_FX_ENDPOINT_ADD:
		return sio_store_endpoint_add(st, sid, e->ep, e->a);
	case SIO_FX_ENDPOINT_DEL:
		return effect_endpoint_del(st, sid, e->ep);
	case SIO_FX_ACK_TAKE:
		return effect_ack_take(st, sid, e, err);
	case SIO_FX_BRIDGE:
		rc = sio_store_bridge_put(st, sid, e->a, e->alen,
		                          sio_store_now(), (int)e->id);
		if (rc == SIO_FULL) {
			effect_note(err, "bridge queue full, event dropped", e);
			rc = SIO_OK;
		}
		return rc;
	case SIO_FX_END:
		break;
	}
	return SIO_OK;
}

int
sio_effects_put_first(const struct sio_effects *fx, struct sio_store *st,
                      const char *sid, char *err)
{
	const struct sio_effect *e = fx->n > 0 ? &fx->v[0] : NULL;
	int rc;

	if (e == NULL || e->kind != SIO_FX_PUT)
		return SIO_ABSENT;
	for (size_t i = 1; i < fx->n; i++)
		if (fx->v[i].kind == SIO_FX_END)
			return SIO_ABSENT; /* its claim needs the state read */
	rc = sio_store_outbox_put(st, sid, e->a, e->alen, e->flags & 0xff,
	                          e->due);
	if (rc == SIO_FULL) {
		effect_note(err, "queue full, packet dropped", e);
		rc = SIO_OK;
	}
	return rc == SIO_ABSENT ? SIO_CLOSED : rc;
}

int
sio_effects_apply(const struct sio_effects *fx, size_t from,
                  struct sio_store *st, const char *sid, int ended,
                  const struct sio_effect **end, char *err)
{
	int rc;

	*end = NULL;
	for (size_t i = from; i < fx->n; i++) {
		const struct sio_effect *e = &fx->v[i];
		if (e->kind == SIO_FX_END) {
			*end = e;
			return SIO_OK;
		}
		if (ended && e->kind != SIO_FX_BROADCAST &&
		    e->kind != SIO_FX_BRIDGE)
			continue; /* the session is gone: only others hear */
		rc = effect_apply(e, st, sid, err);
		if (rc == SIO_ABSENT) /* an ack taken elsewhere */
			i += e->skip;
		else if (rc != SIO_OK)
			return SIO_ERR;
	}
	return SIO_OK;
}
