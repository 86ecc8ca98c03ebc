/*
 * sidset.h: a small set of session ids, each with a value of the caller's
 * (a fixed size, zeroed when its sid is added), kept in the order added.
 * The gateway gathers in one the sessions of its own that a write rang,
 * to wake (and maybe answer) once the write has committed. Lookups are
 * linear: a set holds the sessions one batch of writes touched.
 */
#ifndef SIO_SIDSET_H
#define SIO_SIDSET_H

#include <stddef.h>

#include "siogate.h"

struct sio_sidset {
	char (*sids)[SIO_SID_LEN + 1];
	unsigned char *vals; /* n values of size bytes, in the order of sids */
	size_t n, cap, size;
	/* an add failed (not a sid, out of memory): whoever reads the set
	 * must act as if it held every sid */
	int lost;
};

/* An empty set whose values are size bytes (0: sids alone); allocates
 * nothing. */
void sio_sidset_init(struct sio_sidset *set, size_t size);
/* Frees the storage; the set is empty (same value size) and reusable. */
void sio_sidset_cleanup(struct sio_sidset *set);
/*
 * Adds sid unless it is there. Returns its value (size zero bytes, valid
 * until the next add), or NULL when sid was there already or could not be
 * added: longer than SIO_SID_LEN or out of memory, and then set->lost is
 * set. With size 0, an added sid returns a non-NULL pointer not to use.
 */
void *sio_sidset_add(struct sio_sidset *set, const char *sid);
/* The index of sid in set, -1 when absent. */
long sio_sidset_find(const struct sio_sidset *set, const char *sid);
/* The number of sids, the i-th sid and its value (i < set->n); both
 * borrowed until the next add or the cleanup. */
size_t sio_sidset_len(const struct sio_sidset *set);
const char *sio_sidset_sid(const struct sio_sidset *set, size_t i);
void *sio_sidset_val(const struct sio_sidset *set, size_t i);

#endif
