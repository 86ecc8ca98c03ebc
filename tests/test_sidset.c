/*
 * test_sidset.c: the sid set suite. Adding keeps the first of equal sids
 * and the order of adds, values start zeroed and stay with their sid as the
 * set grows, and a sid that cannot be added marks the set lost.
 */
#include <stdio.h>
#include <string.h>

#include "cu.h"
#include "sidset.h"

struct val {
	int taken;
	char note[40];
};

static void
test_add_once_in_order(void)
{
	struct sio_sidset set;
	struct val *v;

	sio_sidset_init(&set, sizeof(struct val));
	CU_ASSERT_EQUAL(sio_sidset_len(&set), 0);
	v = sio_sidset_add(&set, "b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(v->taken, 0);
	v->taken = 2;
	CU_ASSERT_PTR_NOT_NULL(sio_sidset_add(&set, "a"));
	CU_ASSERT_PTR_NULL(sio_sidset_add(&set, "b"));
	CU_ASSERT_EQUAL(sio_sidset_len(&set), 2);
	CU_ASSERT_STRING_EQUAL(sio_sidset_sid(&set, 0), "b");
	CU_ASSERT_STRING_EQUAL(sio_sidset_sid(&set, 1), "a");
	CU_ASSERT_EQUAL(((struct val *)sio_sidset_val(&set, 0))->taken, 2);
	CU_ASSERT_EQUAL(sio_sidset_find(&set, "a"), 1);
	CU_ASSERT_EQUAL(sio_sidset_find(&set, "c"), -1);
	CU_ASSERT_FALSE(set.lost);
	sio_sidset_cleanup(&set);
	CU_ASSERT_EQUAL(sio_sidset_len(&set), 0);
	CU_ASSERT_EQUAL(sio_sidset_find(&set, "a"), -1);
}

/* Values written before the arrays grow are read back after. */
static void
test_values_survive_growth(void)
{
	struct sio_sidset set;
	char sid[SIO_SID_LEN + 1];

	sio_sidset_init(&set, sizeof(struct val));
	for (int i = 0; i < 100; i++) {
		struct val *v;
		snprintf(sid, sizeof(sid), "s%021d", i);
		v = sio_sidset_add(&set, sid);
		CU_ASSERT_PTR_NOT_NULL_FATAL(v);
		CU_ASSERT_EQUAL(v->taken, 0);
		CU_ASSERT_EQUAL(v->note[sizeof(v->note) - 1], 0);
		v->taken = i;
	}
	CU_ASSERT_EQUAL(sio_sidset_len(&set), 100);
	for (int i = 0; i < 100; i++) {
		snprintf(sid, sizeof(sid), "s%021d", i);
		CU_ASSERT_STRING_EQUAL(sio_sidset_sid(&set, (size_t)i), sid);
		CU_ASSERT_EQUAL(
		    ((struct val *)sio_sidset_val(&set, (size_t)i))->taken, i);
		CU_ASSERT_PTR_NULL(sio_sidset_add(&set, sid));
	}
	sio_sidset_cleanup(&set);
}

static void
test_sids_alone(void)
{
	struct sio_sidset set;

	sio_sidset_init(&set, 0);
	CU_ASSERT_PTR_NOT_NULL(sio_sidset_add(&set, "x"));
	CU_ASSERT_PTR_NULL(sio_sidset_add(&set, "x"));
	CU_ASSERT_PTR_NULL(sio_sidset_val(&set, 0));
	CU_ASSERT_EQUAL(sio_sidset_len(&set), 1);
	sio_sidset_cleanup(&set);
}

static void
test_too_long_is_lost(void)
{
	struct sio_sidset set;
	char sid[SIO_SID_LEN + 2];

	memset(sid, 'a', sizeof(sid) - 1);
	sid[sizeof(sid) - 1] = '\0';
	sio_sidset_init(&set, sizeof(struct val));
	CU_ASSERT_PTR_NULL(sio_sidset_add(&set, sid));
	CU_ASSERT_TRUE(set.lost);
	CU_ASSERT_EQUAL(sio_sidset_len(&set), 0);
	sid[SIO_SID_LEN] = '\0'; /* the longest sid fits */
	CU_ASSERT_PTR_NOT_NULL(sio_sidset_add(&set, sid));
	CU_ASSERT_STRING_EQUAL(sio_sidset_sid(&set, 0), sid);
	sio_sidset_cleanup(&set);
	CU_ASSERT_FALSE(set.lost);
}

static const struct cu_test tests[] = {
    {"sidset adds a sid once, in the order of adds, its value zeroed",
     test_add_once_in_order},
    {"sidset keeps each value with its sid as the set grows",
     test_values_survive_growth},
    {"sidset holds sids alone when values are 0 bytes", test_sids_alone},
    {"sidset refuses a sid over SIO_SID_LEN and marks the set lost",
     test_too_long_is_lost},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("sidset", tests, NULL, NULL);
}
