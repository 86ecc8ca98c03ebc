/*
 * sidset.c: a small set of session ids with a fixed-size value each
 * (sidset.h). Two arrays grown together by doubling: the sids, and their
 * values side by side, so that a value's type needs no sid of its own.
 */
#include <stdlib.h>
#include <string.h>

#include "sidset.h"

void
sio_sidset_init(struct sio_sidset *set, size_t size)
{
	memset(set, 0, sizeof(*set));
	set->size = size;
}

void
sio_sidset_cleanup(struct sio_sidset *set)
{
	free(set->sids);
	free(set->vals);
	sio_sidset_init(set, set->size);
}

long
sio_sidset_find(const struct sio_sidset *set, const char *sid)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->sids[i], sid) == 0)
			return (long)i;
	return -1;
}

/* Room for one more sid and value; SIO_OK or SIO_ERR (unchanged). */
static int
sidset_grow(struct sio_sidset *set)
{
	size_t cap = set->cap ? set->cap * 2 : 8;
	void *p;

	if (set->n < set->cap)
		return SIO_OK;
	p = realloc(set->sids, cap * sizeof(set->sids[0]));
	if (p == NULL)
		return SIO_ERR;
	set->sids = p;
	if (set->size > 0) {
		p = realloc(set->vals, cap * set->size);
		if (p == NULL)
			return SIO_ERR; /* sids grown: harmless */
		set->vals = p;
	}
	set->cap = cap;
	return SIO_OK;
}

void *
sio_sidset_add(struct sio_sidset *set, const char *sid)
{
	size_t len = strlen(sid);
	void *val;

	if (sio_sidset_find(set, sid) >= 0)
		return NULL;
	if (len > SIO_SID_LEN || sidset_grow(set) != SIO_OK) {
		set->lost = 1;
		return NULL;
	}
	memcpy(set->sids[set->n], sid, len + 1);
	val = set->size > 0 ? set->vals + set->n * set->size
	                    : (void *)set->sids[set->n];
	if (set->size > 0)
		memset(val, 0, set->size);
	set->n++;
	return val;
}

size_t
sio_sidset_len(const struct sio_sidset *set)
{
	return set->n;
}

const char *
sio_sidset_sid(const struct sio_sidset *set, size_t i)
{
	return set->sids[i];
}

void *
sio_sidset_val(const struct sio_sidset *set, size_t i)
{
	return set->size > 0 ? set->vals + i * set->size : NULL;
}
