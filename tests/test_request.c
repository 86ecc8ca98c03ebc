/*
 * test_request.c: the request applications see: query arguments, cookies,
 * selected headers, the parent chain of an endpoint's connect, and the
 * JSON form the store keeps.
 */
#include <stdlib.h>
#include <string.h>

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
	json = sio_request_to_json(&r);
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

static const struct cu_test tests[] = {
    {"query arguments are URL-decoded", test_query_arguments_are_url_decoded},
    {"cookies are split and unquoted", test_cookies_are_split_and_unquoted},
    {"only selected headers are kept", test_only_selected_headers_are_kept},
    {"an endpoint request falls back to its parent",
     test_an_endpoint_request_falls_back_to_its_parent},
    {"the JSON form round trips", test_json_form_round_trips},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("request", tests, NULL, NULL);
}
