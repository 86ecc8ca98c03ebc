/*
 * test_fuzz_seeded.c: the fuzz target of fuzz_body.h run over inputs from
 * a fixed-seed generator, so every `make test` and `make asan` repeats the
 * same ~200k cases without clang's libFuzzer: random bytes drawn from the
 * protocol's alphabet, and valid packets, payloads and jsonp bodies
 * mutated by flips, insertions, deletions and truncations. The real
 * checks are fuzz_one()'s aborts and the sanitizers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "fuzz_body.h"

#define SEEDED_RUNS 200000
#define SEEDED_MAX_LEN 256

#define M "\xef\xbf\xbd"

static const char *const seeds[] = {
    "0::",
    "1::/chat",
    "2::",
    "3:::hello",
    "3:1::a:b:c",
    "4:::{\"a\":1}",
    "5:::{\"name\":\"noargs\"}",
    "5:1+::{\"name\":\"echo\",\"args\":[\"x\",1,null]}",
    "6:::1+[\"ack:\xf0\x9f\x98\x80x\"]",
    "6::/chat:7+[42]",
    "7:::1+0",
    "7::/secret:2",
    "8::",
    M "3" M "abc" M "3" M "def",
    M "17" M "6:::1+[\"ack:\xf0\x9f\x98\x80x\"]" M "5" M "6:::7",
    M "2" M "\xf0\x9f\x98\x80" M "1" M "\xe2\x80\xa8",
    "d=%223%3A%3A%3Ahello+world%22",
    "i=1&d=%22%5Cud83d%5Cude00%5Cn%22",
    "3:::a</script>\342\200\250b\\\"/\001",
};

/* Bytes the parsers treat specially, weighted into the random inputs. */
static const char *const tokens[] = {
    ":",
    "+",
    "0",
    "1",
    "9",
    M,
    "\xef",
    "\xbf\xbd",
    "\xf0\x9f\x98\x80",
    "\xed\xa0\x80",
    "%",
    "%2",
    "\\u",
    "\\ud83d",
    "\"",
    "&",
    "=",
    "d=",
    "{",
    "[",
    "\\",
};

#define NSEEDS (sizeof(seeds) / sizeof(seeds[0]))
#define NTOKENS (sizeof(tokens) / sizeof(tokens[0]))

/* xorshift64*: small, fast and the same on every platform. */
static uint64_t
seeded_next(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 2685821657736338717ULL;
}

static size_t
seeded_below(uint64_t *state, size_t n)
{
	return (size_t)(seeded_next(state) % n);
}

/* Inserts tok at pos when it fits. */
static size_t
seeded_insert(uint8_t *buf, size_t len, size_t pos, const char *tok)
{
	size_t n = strlen(tok);

	if (len + n > SEEDED_MAX_LEN)
		return len;
	memmove(buf + pos + n, buf + pos, len - pos);
	memcpy(buf + pos, tok, n);
	return len + n;
}

static size_t
seeded_mutate(uint64_t *st, uint8_t *buf, size_t len)
{
	size_t pos = len ? seeded_below(st, len + 1) : 0;

	switch (seeded_below(st, 6)) {
	case 0:
		if (pos < len)
			buf[pos] ^= (uint8_t)(1u << seeded_below(st, 8));
		return len;
	case 1:
		return seeded_insert(buf, len, pos,
		                     tokens[seeded_below(st, NTOKENS)]);
	case 2:
		if (pos < len)
			memmove(buf + pos, buf + pos + 1, len - pos - 1);
		return pos < len ? len - 1 : len;
	case 3:
		return pos;
	case 4:
		if (pos < len)
			buf[pos] = (uint8_t)seeded_next(st);
		return len;
	default:
		/* Repeat the input's own bytes: a second frame or packet. */
		if (pos > 0 && len + pos <= SEEDED_MAX_LEN) {
			memcpy(buf + len, buf, pos);
			return len + pos;
		}
		return len;
	}
}

static size_t
seeded_input(uint64_t *st, uint8_t *buf)
{
	size_t len = 0, k, n;

	if (seeded_below(st, 4) == 0) {
		n = seeded_below(st, 24);
		for (k = 0; k < n; k++) {
			if (seeded_below(st, 2))
				len = seeded_insert(
				    buf, len, len,
				    tokens[seeded_below(st, NTOKENS)]);
			else if (len < SEEDED_MAX_LEN)
				buf[len++] = (uint8_t)seeded_next(st);
		}
		return len;
	}
	k = seeded_below(st, NSEEDS);
	len = strlen(seeds[k]);
	memcpy(buf, seeds[k], len);
	n = 1 + seeded_below(st, 4);
	for (k = 0; k < n; k++)
		len = seeded_mutate(st, buf, len);
	return len;
}

static void
test_seeded(void)
{
	uint8_t buf[2 * SEEDED_MAX_LEN];
	uint64_t state = 0x5105ea7e5eedULL;
	uint8_t *copy;
	size_t len;
	long k;

	for (k = 0; k < SEEDED_RUNS; k++) {
		len = seeded_input(&state, buf);
		/* An exact-size copy, so ASan catches a read past the end. */
		copy = malloc(len ? len : 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
		memcpy(copy, buf, len);
		fuzz_one(copy, len);
		free(copy);
	}
	CU_ASSERT_EQUAL(k, SEEDED_RUNS);
}

static void
test_seeds_are_valid(void)
{
	struct sio_packet p;
	size_t k, n, len;

	/* The packet seeds parse, so mutations start from the accepted set. */
	for (k = 0; k < 13; k++) {
		len = strlen(seeds[k]);
		CU_ASSERT_EQUAL(sio_packet_parse(seeds[k], len, &p), (int)len);
	}
	for (k = 13; k < 16; k++) {
		struct sio_slice out[4];

		CU_ASSERT_EQUAL(
		    sio_payload_split(seeds[k], strlen(seeds[k]), out, 4, &n),
		    SIO_OK);
	}
}

static const struct cu_test tests[] = {
    {"fuzz seeds are valid packets and payloads", test_seeds_are_valid},
    {"fuzz target survives 200k seeded random and mutated inputs", test_seeded},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("fuzz_seeded", tests, NULL, NULL);
}
