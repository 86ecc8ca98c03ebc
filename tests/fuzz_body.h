/*
 * fuzz_body.h: the fuzz targets shared by the libFuzzer entry point
 * (fuzz_parsers.c, `make fuzz`, one binary per target) and the seeded
 * CUnit suite (test_fuzz_seeded.c, run by `make check` and under ASan by
 * `make asan`). There is one target per family of parsers that read input
 * from outside; each feeds the bytes to its parsers and aborts when an
 * invariant breaks (results inside the input, round trips, agreement
 * between two parsers of the same thing, escaping that leaves nothing a
 * page would act on). Their seeds are tests/fuzz_corpus/<name>/, their
 * dictionaries tests/fuzz_corpus/<name>.dict. Test code only.
 */
#ifndef SIO_FUZZ_BODY_H
#define SIO_FUZZ_BODY_H

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "json.h"
#include "packet.h"
#include "payload.h"
#include "request.h"
#include "siogate.h"
#include "text.h"

#include "gateway.h"
#include "hixie.h"
#include "policy.h"
#include "wsd.h"

/* An invariant: when it breaks, say which and abort (libFuzzer keeps the
 * input as a crash file). */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n",      \
			        __FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

/* True when [p, p + n) lies inside [base, base + size). */
static int
fuzz_inside(const char *base, size_t size, const char *p, size_t n)
{
	return p >= base && n <= size && (size_t)(p - base) <= size - n;
}

/* True when needle occurs in s[0..len), ASCII letters in any case. */
static int
fuzz_find_ci(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; n <= len && i <= len - n; i++)
		if (strncasecmp(s + i, needle, n) == 0)
			return 1;
	return 0;
}

/* A NUL-terminated copy of data[0..size); the caller frees it. */
static char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#include "fuzz_config.h"
#include "fuzz_hixie.h"
#include "fuzz_origin.h"
#include "fuzz_publish.h"
#include "fuzz_request.h"
#include "fuzz_route.h"
#include "fuzz_text.h"
#include "fuzz_wire.h"

struct fuzz_target {
	const char *name; /* fuzz_<name> in build/fuzz, seeds and dict */
	void (*run)(const uint8_t *data, size_t size);
};

static const struct fuzz_target fuzz_targets[] = {
    {"wire", fuzz_wire},       /* packets, payload framing */
    {"text", fuzz_text},       /* escaping, URL and form decoding, jsonp */
    {"hixie", fuzz_hixie},     /* hixie-76 head, keys, frames */
    {"route", fuzz_route},     /* gw_route_parse, wsd_route */
    {"request", fuzz_request}, /* query, cookies, stored request JSON */
    {"config", fuzz_config},   /* the file, every value parser */
    {"origin", fuzz_origin},   /* origins, stats_allow, Flash policy */
    {"publish", fuzz_publish}, /* action lists, signature header */
    {NULL, NULL},
};

#endif
