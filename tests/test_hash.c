/*
 * test_hash.c: the string hash suite: FNV-1a's published 32-bit vectors.
 */
#include "cu.h"
#include "hash.h"

static void
test_fnv1a_vectors(void)
{
	static const struct {
		const char *s;
		uint32_t h;
	} v[] = {
	    {"", 0x811c9dc5u},
	    {"a", 0xe40c292cu},
	    {"foobar", 0xbf9cf968u},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		CU_ASSERT_EQUAL(sio_hash(v[i].s), v[i].h);
	/* bytes over 0x7f count as unsigned */
	CU_ASSERT_NOT_EQUAL(sio_hash("\xff"), sio_hash("\x7f"));
}

static const struct cu_test tests[] = {
    {"hash is FNV-1a over the string's bytes", test_fnv1a_vectors},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("hash", tests, NULL, NULL);
}
