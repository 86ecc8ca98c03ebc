/*
 * test_http.c: the http suite (common/http.c), as tables: Accept-Encoding
 * with q-values, "*", x-gzip and malformed elements; If-None-Match with
 * lists, weak tags and "*".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "http.h"

static void
test_accepts(void)
{
	static const struct {
		const char *header;
		int want;
	} cases[] = {
	    {"gzip", 1},
	    {"gzip, deflate, br", 1},
	    {"deflate, gzip;q=0.5", 1},
	    {"GZIP", 1},
	    {"x-gzip", 1},
	    {" br ,  gzip ; q=1.0 ", 1},
	    {"gzip;q=0", 0},
	    {"gzip;q=0.000", 0},
	    {"gzip; q=0.001", 1},
	    {"*", 1},
	    {"*;q=0", 0},
	    {"gzip;q=0, *", 0},
	    {"*, gzip;q=0", 0},
	    {"identity", 0},
	    {"deflate, br", 0},
	    {"", 0},
	    {"gzipped", 0},
	    {"gzip;q=2", 0},
	    {"gzip;q=0.5000", 0},
	    {"gzip;level=9", 1},
	    {"gzip;q=abc, deflate", 0},
	    {",,,gzip", 1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = sio_http_accepts(cases[i].header, "gzip");
		if (got != cases[i].want)
			fprintf(stderr, "\n[%s]: %d\n", cases[i].header, got);
		CU_ASSERT_EQUAL(got, cases[i].want);
	}
	CU_ASSERT_EQUAL(sio_http_accepts(NULL, "gzip"), 0);
}

static void
test_etag_match(void)
{
	static const struct {
		const char *header;
		int want;
	} cases[] = {
	    {"\"abc\"", 1},
	    {"W/\"abc\"", 1},
	    {"\"x\", \"abc\"", 1},
	    {"\"x\",W/\"abc\" ", 1},
	    {"*", 1},
	    {"\"abcd\"", 0},
	    {"\"ab\"", 0},
	    {"abc", 0},
	    {"\"abc", 0},
	    {"", 0},
	    {"\"a,b\", \"abc\"", 1},
	    {"junk, \"abc\"", 1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = sio_http_etag_match(cases[i].header, "\"abc\"");
		if (got != cases[i].want)
			fprintf(stderr, "\n[%s]: %d\n", cases[i].header, got);
		CU_ASSERT_EQUAL(got, cases[i].want);
	}
	CU_ASSERT_EQUAL(sio_http_etag_match(NULL, "\"abc\""), 0);
}

/* Every header of both tables cut at every length parses without reading
 * past its end (ASan, make asan), and a cut list never gains a match. */
static void
test_truncated(void)
{
	static const char *const headers[] = {
	    " br ,  gzip ; q=1.0 ", "gzip;q=0.5000",    "deflate, gzip;q=0.5",
	    "\"x\",W/\"abc\" ",     "\"a,b\", \"abc\"", "junk, \"abc\""};

	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		size_t len = strlen(headers[i]);
		for (size_t n = 0; n <= len; n++) {
			char *cut = strndup(headers[i], n);
			CU_ASSERT_PTR_NOT_NULL_FATAL(cut);
			(void)sio_http_accepts(cut, "gzip");
			if (n < len - 1)
				CU_ASSERT(
				    !sio_http_etag_match(cut, "\"abc\"") ||
				    strstr(cut, "\"abc\"") != NULL);
			free(cut);
		}
	}
}

static const struct cu_test tests[] = {
    {"http accepts gzip when listed or matched by *, with a q-value above 0",
     test_accepts},
    {"http etag match finds the tag in a list, weak or strong, or *",
     test_etag_match},
    {"http reads every header cut at every length within its bytes",
     test_truncated},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("http", tests, NULL, NULL);
}
