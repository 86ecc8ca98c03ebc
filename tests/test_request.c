/*
 * test_request.c: the request applications see: query arguments, cookies,
 * selected headers, the parent chain of an endpoint's connect, and the
 * JSON form the store keeps.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cu.h"
#include "request.h"

static void
test_query_arguments_are_url_decoded(void)
{
	struct sio_request r;

	CU_ASSERT(sio_request_init(&r, "10.0.0.1", "a=1&b=x+y%21&c&=skip&d=%zz",
	                           NULL) == SIO_OK);
	CU_ASSERT_STRING_EQUAL(sio_request_arg(&r, "a"), "1");
	CU_ASSERT_STRING_EQUAL(sio_request_arg(&r, "b"), "x y!");
	CU_ASSERT_STRING_EQUAL(sio_request_arg(&r, "c"), "");
	CU_ASSERT_STRING_EQUAL(sio_request_arg(&r, "d"), "%zz");
	CU_ASSERT_PTR_NULL(sio_request_arg(&r, "e"));
	CU_ASSERT_PTR_NULL(sio_request_arg(&r, ""));
	CU_ASSERT_STRING_EQUAL(sio_request_remote(&r), "10.0.0.1");
	sio_request_cleanup(&r);
}

static void
test_cookies_are_split_and_unquoted(void)
{
	struct sio_request r;

	CU_ASSERT(sio_request_init(&r, NULL, NULL,
	                           "sid=abc; user=\"ann b\";flag; x = 1 ") ==
	          SIO_OK);
	CU_ASSERT_STRING_EQUAL(sio_request_cookie(&r, "sid"), "abc");
	CU_ASSERT_STRING_EQUAL(sio_request_cookie(&r, "user"), "ann b");
	CU_ASSERT_STRING_EQUAL(sio_request_cookie(&r, "x"), "1");
	CU_ASSERT_PTR_NULL(sio_request_cookie(&r, "flag"));
	CU_ASSERT_STRING_EQUAL(sio_request_remote(&r), "");
	sio_request_cleanup(&r);
}

static void
test_only_selected_headers_are_kept(void)
{
	struct sio_request r;

	CU_ASSERT(sio_request_init(&r, NULL, NULL, NULL) == SIO_OK);
	CU_ASSERT(sio_request_add_header(&r, "user-agent", "curl") == SIO_OK);
	CU_ASSERT(sio_request_add_header(&r, "Authorization", "x") == SIO_OK);
	CU_ASSERT_STRING_EQUAL(sio_request_header(&r, "User-Agent"), "curl");
	CU_ASSERT_STRING_EQUAL(sio_request_header(&r, "USER-AGENT"), "curl");
	CU_ASSERT_PTR_NULL(sio_request_header(&r, "Authorization"));
	sio_request_cleanup(&r);
}

static void
test_an_endpoint_request_falls_back_to_its_parent(void)
{
	struct sio_request hs, ep;

	CU_ASSERT(sio_request_init(&hs, "::1", "a=1&b=2", "c=3") == SIO_OK);
	CU_ASSERT(sio_request_init(&ep, NULL, "a=9", NULL) == SIO_OK);
	ep.parent = &hs;
	CU_ASSERT_STRING_EQUAL(sio_request_arg(&ep, "a"), "9");
	CU_ASSERT_STRING_EQUAL(sio_request_arg(&ep, "b"), "2");
	CU_ASSERT_STRING_EQUAL(sio_request_cookie(&ep, "c"), "3");
	CU_ASSERT_STRING_EQUAL(sio_request_remote(&ep), "::1");
	sio_request_cleanup(&ep);
	sio_request_cleanup(&hs);
}

static void
test_json_form_round_trips(void)
{
	struct sio_request r, back;
	char *json;

	CU_ASSERT(sio_request_init(&r, "1.2.3.4", "q=%C3%A9", "k=v") == SIO_OK);
	CU_ASSERT(sio_request_add_header(&r, "Origin", "http://h") == SIO_OK);
	json = sio_request_to_json(&r, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(json);
	CU_ASSERT(sio_request_from_json(&back, json) == SIO_OK);
	CU_ASSERT_STRING_EQUAL(sio_request_arg(&back, "q"), "\xc3\xa9");
	CU_ASSERT_STRING_EQUAL(sio_request_cookie(&back, "k"), "v");
	CU_ASSERT_STRING_EQUAL(sio_request_header(&back, "origin"), "http://h");
	CU_ASSERT_STRING_EQUAL(sio_request_remote(&back), "1.2.3.4");
	sio_request_cleanup(&back);
	CU_ASSERT(sio_request_from_json(&back, "[1") == SIO_ERR);
	CU_ASSERT_PTR_NULL(sio_request_arg(&back, "q"));
	sio_request_cleanup(&back);
	free(json);
	sio_request_cleanup(&r);
}

/* The stored form keeps the configured cookies and no field over
 * SIO_REQUEST_FIELD_MAX; the request itself keeps everything. */
static void
test_stored_form_is_bounded(void)
{
	struct sio_request r, back;
	struct sio_config c;
	char err[SIO_ERR_LEN], *big, *json;

	big = malloc(SIO_REQUEST_FIELD_MAX + 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'a', SIO_REQUEST_FIELD_MAX + 1);
	big[SIO_REQUEST_FIELD_MAX + 1] = '\0';
	sio_config_defaults(&c);
	CU_ASSERT_EQUAL(sio_config_set(&c, "request_cookies", "lang", err),
	                SIO_OK);
	CU_ASSERT(sio_request_init(&r, "1.2.3.4", "a=1",
	                           "other_app=secret; lang=fr") == SIO_OK);
	CU_ASSERT(sio_request_add_header(&r, "User-Agent", big) == SIO_OK);
	CU_ASSERT(sio_request_add_header(&r, "Origin", "http://h") == SIO_OK);
	CU_ASSERT_STRING_EQUAL(sio_request_cookie(&r, "other_app"), "secret");
	json = sio_request_to_json(&r, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(json);
	CU_ASSERT_PTR_NULL(strstr(json, "secret"));
	CU_ASSERT(strlen(json) < 200);
	CU_ASSERT(sio_request_from_json(&back, json) == SIO_OK);
	CU_ASSERT_STRING_EQUAL(sio_request_cookie(&back, "lang"), "fr");
	CU_ASSERT_PTR_NULL(sio_request_cookie(&back, "other_app"));
	CU_ASSERT_PTR_NULL(sio_request_header(&back, "User-Agent"));
	CU_ASSERT_STRING_EQUAL(sio_request_header(&back, "Origin"), "http://h");
	CU_ASSERT_STRING_EQUAL(sio_request_arg(&back, "a"), "1");
	sio_request_cleanup(&back);
	free(json);
	sio_request_cleanup(&r);
	/* a query over the bound is left out */
	big[0] = 'q';
	big[1] = '=';
	CU_ASSERT(sio_request_init(&r, "1.2.3.4", big, NULL) == SIO_OK);
	json = sio_request_to_json(&r, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(json);
	CU_ASSERT(strlen(json) < 200);
	free(json);
	sio_request_cleanup(&r);
	free(big);
}

static const struct cu_test tests[] = {
    {"query arguments are URL-decoded", test_query_arguments_are_url_decoded},
    {"cookies are split and unquoted", test_cookies_are_split_and_unquoted},
    {"only selected headers are kept", test_only_selected_headers_are_kept},
    {"an endpoint request falls back to its parent",
     test_an_endpoint_request_falls_back_to_its_parent},
    {"the JSON form round trips", test_json_form_round_trips},
    {"the stored form keeps the configured cookies and bounded fields",
     test_stored_form_is_bounded},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("request", tests, NULL, NULL);
}
