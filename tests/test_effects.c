/*
 * test_effects.c: the list of effects keeps what was added, byte for byte,
 * whatever its size and however many: the first ones in the list itself,
 * the rest in memory of its own (effects.c); a truncated list takes new
 * effects after the ones it kept. Also sio_buf_copy(), the bounded copy
 * the engine uses instead of snprintf("%s").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cu.h"
#include "effects.h"

/* Sizes around the list's own bytes and its chunks. */
static const size_t sizes[] = {
    0, 1, 100, SIO_FX_FEW_BYTES - 1, 255, 256, 257, 4000, 4096, 5000, 9000, 3};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* The bytes of effect i: its size from sizes[], each byte from i. */
static char *
pattern(size_t i, size_t *len)
{
	char *p;

	*len = sizes[i % NSIZES];
	p = malloc(*len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (size_t k = 0; k < *len; k++)
		p[k] = (char)('a' + (i + k) % 26);
	p[*len] = '\0';
	return p;
}

static void
add_n(struct sio_effects *fx, size_t from, size_t to)
{
	char ep[32];

	for (size_t i = from; i < to; i++) {
		size_t len;
		char *a = pattern(i, &len);
		struct sio_effect *e;

		snprintf(ep, sizeof(ep), "/e%zu", i);
		e = sio_effects_add(fx, SIO_FX_DATA, ep, a, len,
		                    i % 3 ? "value" : NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		free(a);
	}
}

/* Effects [0, n) of fx are those add_n() made. */
static int
intact(const struct sio_effects *fx, size_t n)
{
	char ep[32];
	int bad = 0;

	if (fx->n != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct sio_effect *e = &fx->v[i];
		size_t len;
		char *a = pattern(i, &len);

		snprintf(ep, sizeof(ep), "/e%zu", i);
		bad += e->kind != SIO_FX_DATA || strcmp(e->ep, ep) != 0 ||
		       e->alen != len || memcmp(e->a, a, len + 1) != 0;
		bad += i % 3 ? e->b == NULL || strcmp(e->b, "value") != 0
		             : e->b != NULL;
		free(a);
	}
	return bad == 0;
}

static void
test_few_and_many(void)
{
	struct sio_effects fx;

	sio_effects_init(&fx);
	add_n(&fx, 0, 2);
	CU_ASSERT(intact(&fx, 2));
	/* the first ones live in the list itself */
	CU_ASSERT_PTR_EQUAL(fx.v, fx.few);
	/* past SIO_FX_FEW effects and past every chunk's size: each
	 * effect's strings stay where they were written */
	add_n(&fx, 2, 3 * NSIZES);
	CU_ASSERT(intact(&fx, 3 * NSIZES));
	CU_ASSERT_PTR_NOT_EQUAL(fx.v, fx.few);
	sio_effects_cleanup(&fx);
	CU_ASSERT_EQUAL(fx.n, 0);
	CU_ASSERT_EQUAL(fx.room, -1);
	/* reusable after a cleanup */
	add_n(&fx, 0, NSIZES);
	CU_ASSERT(intact(&fx, NSIZES));
	sio_effects_cleanup(&fx);
}

static void
test_truncate(void)
{
	struct sio_effects fx;

	sio_effects_init(&fx);
	add_n(&fx, 0, NSIZES);
	sio_effects_truncate(&fx, 5);
	CU_ASSERT(intact(&fx, 5));
	add_n(&fx, 5, 2 * NSIZES);
	CU_ASSERT(intact(&fx, 2 * NSIZES));
	sio_effects_truncate(&fx, 0);
	CU_ASSERT_EQUAL(fx.n, 0);
	sio_effects_cleanup(&fx);
}

/* Read-your-writes looks at the newest effect for a key. */
static void
test_reads(void)
{
	struct sio_effects fx;
	const char *v = NULL;

	sio_effects_init(&fx);
	CU_ASSERT_EQUAL(sio_effects_data(&fx, "k", &v), 0);
	CU_ASSERT_PTR_NOT_NULL(
	    sio_effects_add(&fx, SIO_FX_DATA, NULL, "k", 1, "one"));
	for (int i = 0; i < 10; i++)
		CU_ASSERT_PTR_NOT_NULL(
		    sio_effects_add(&fx, SIO_FX_JOIN, "/", "room", 4, NULL));
	CU_ASSERT_PTR_NOT_NULL(
	    sio_effects_add(&fx, SIO_FX_DATA, NULL, "k", 1, "two"));
	CU_ASSERT_EQUAL(sio_effects_data(&fx, "k", &v), 1);
	CU_ASSERT_STRING_EQUAL(v, "two");
	CU_ASSERT_EQUAL(sio_effects_endpoint(&fx, "/chat"), -1);
	CU_ASSERT_PTR_NOT_NULL(
	    sio_effects_add(&fx, SIO_FX_ENDPOINT_ADD, "/chat", "", 0, NULL));
	CU_ASSERT_EQUAL(sio_effects_endpoint(&fx, "/chat"), 1);
	sio_effects_cleanup(&fx);
}

static void
test_buf_copy(void)
{
	char small[8], sid[23];

	memset(small, 'x', sizeof(small));
	CU_ASSERT_EQUAL(sio_buf_copy(small, sizeof(small), "abc"), 3);
	CU_ASSERT_STRING_EQUAL(small, "abc");
	/* cut to fit, terminated */
	CU_ASSERT_EQUAL(sio_buf_copy(small, sizeof(small), "0123456789"), 7);
	CU_ASSERT_STRING_EQUAL(small, "0123456");
	CU_ASSERT_EQUAL(sio_buf_copy(small, sizeof(small), ""), 0);
	CU_ASSERT_STRING_EQUAL(small, "");
	CU_ASSERT_EQUAL(sio_buf_copy(small, 1, "abc"), 0);
	CU_ASSERT_EQUAL(small[0], '\0');
	CU_ASSERT_EQUAL(
	    sio_buf_copy(sid, sizeof(sid), "AAAAAAAAAAAAAAAAAAAAAA"), 22);
	CU_ASSERT_STRING_EQUAL(sid, "AAAAAAAAAAAAAAAAAAAAAA");
}

static const struct cu_test tests[] = {
    {"effects keep their bytes, few or many, small or large",
     test_few_and_many},
    {"a truncated list takes new effects after the ones it kept",
     test_truncate},
    {"read-your-writes sees the newest effect", test_reads},
    {"sio_buf_copy cuts to fit and terminates", test_buf_copy},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("effects", tests, NULL, NULL);
}
