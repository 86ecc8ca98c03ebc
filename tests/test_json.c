/*
 * test_json.c: the json suite. Event bodies as the 0.9 server writes them
 * (name first, args only when there are some), event parsing with missing
 * or null args, the bodies that are refused, and non-ASCII kept raw.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "json.h"
#include "siogate.h"

#define GRIN "\xf0\x9f\x98\x80"

static void
test_event_encode(void)
{
	struct sio_buf b;
	json_t *args;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_json_event_encode(&b, "noargs", NULL), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "{\"name\":\"noargs\"}");
	sio_buf_reset(&b);
	args = json_array();
	CU_ASSERT_EQUAL(sio_json_event_encode(&b, "empty", args), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "{\"name\":\"empty\"}");
	sio_buf_reset(&b);
	json_array_append_new(args, json_string("a/b " GRIN));
	json_array_append_new(args, json_pack("{s:i,s:[]}", "z", 1, "a"));
	json_array_append_new(args, json_null());
	CU_ASSERT_EQUAL(sio_json_event_encode(&b, "echo", args), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "{\"name\":\"echo\",\"args\":[\"a/b " GRIN
	                            "\",{\"z\":1,\"a\":[]},null]}");
	json_decref(args);
	sio_buf_cleanup(&b);
}

static void
test_event_encode_refuses(void)
{
	struct sio_buf b;
	json_t *obj = json_object();

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_buf_puts(&b, "keep"), SIO_OK);
	CU_ASSERT_EQUAL(sio_json_event_encode(&b, "x", obj), SIO_ERR);
	CU_ASSERT_EQUAL(sio_json_event_encode(&b, "\xff", NULL), SIO_ERR);
	CU_ASSERT_EQUAL(sio_json_event_encode(&b, NULL, NULL), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(b.p, "keep");
	json_decref(obj);
	sio_buf_cleanup(&b);
}

/* Parses body as an event and checks the name and the args' text. */
static void
expect_event(const char *body, const char *name, const char *args_text)
{
	struct sio_buf b;
	json_t *args = NULL;
	char *n = NULL;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL_FATAL(
	    sio_json_event_parse(body, strlen(body), &n, &args), SIO_OK);
	CU_ASSERT_STRING_EQUAL(n, name);
	CU_ASSERT(json_is_array(args));
	CU_ASSERT_EQUAL(sio_json_encode(&b, args), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, args_text);
	free(n);
	json_decref(args);
	sio_buf_cleanup(&b);
}

static void
test_event_parse(void)
{
	expect_event("{\"name\":\"hello\",\"args\":[1]}", "hello", "[1]");
	expect_event("{\"name\":\"noargs\"}", "noargs", "[]");
	expect_event("{\"name\":\"n\",\"args\":null}", "n", "[]");
	expect_event("{\"args\":[\"" GRIN "\"],\"name\":\"" GRIN "\"}", GRIN,
	             "[\"" GRIN "\"]");
	expect_event(" {\"name\":\"\\ud83d\\ude00\",\"args\":[\"a\\/b\"]} ",
	             GRIN, "[\"a/b\"]");
	expect_event("{\"name\":\"\",\"extra\":true}", "", "[]");
}

static void
test_event_parse_refuses(void)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "\"name\"",
	    "null",
	    "{}",
	    "{\"name\":1}",
	    "{\"name\":null}",
	    "{\"name\":[\"x\"]}",
	    "{\"name\":\"x\",\"args\":{}}",
	    "{\"name\":\"x\",\"args\":\"a\"}",
	    "{\"name\":\"x\",\"args\":1}",
	    "{\"name\":\"x\"",
	    "{\"name\":\"x\"}}",
	    "{\"name\":\"a\\u0000b\"}",
	    "{\"name\":\"\xff\"}",
	    "{name:\"x\"}",
	};
	json_t *args = NULL;
	char *n = NULL;
	size_t k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		CU_ASSERT_EQUAL(
		    sio_json_event_parse(bad[k], strlen(bad[k]), &n, &args),
		    SIO_ERR);
		CU_ASSERT_PTR_NULL(n);
		CU_ASSERT_PTR_NULL(args);
	}
}

static void
test_event_name_limit(void)
{
	char body[SIO_MAX_EVENT_NAME + 32];
	json_t *args = NULL;
	char *n = NULL;
	int len;

	len = snprintf(body, sizeof(body), "{\"name\":\"%0*d\"}",
	               SIO_MAX_EVENT_NAME, 0);
	CU_ASSERT_EQUAL(sio_json_event_parse(body, (size_t)len, &n, &args),
	                SIO_OK);
	CU_ASSERT_EQUAL(strlen(n), SIO_MAX_EVENT_NAME);
	free(n);
	json_decref(args);
	len = snprintf(body, sizeof(body), "{\"name\":\"%0*d\"}",
	               SIO_MAX_EVENT_NAME + 1, 0);
	CU_ASSERT_EQUAL(sio_json_event_parse(body, (size_t)len, &n, &args),
	                SIO_ERR);
}

static void
test_non_ascii_round_trip(void)
{
	static const char text[] =
	    "{\"k\":\"caf\xc3\xa9 " GRIN " \xe2\x80\xa7\",\"n\":[1,-2.5,true]}";
	struct sio_buf b;
	json_t *v;

	v = sio_json_parse(text, sizeof(text) - 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_json_encode(&b, v), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, text);
	json_decref(v);
	v = sio_json_parse("\"\\u00e9\\ud83d\\ude00\"", 20);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(sio_json_encode(&b, v), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "\"\xc3\xa9" GRIN "\"");
	json_decref(v);
	sio_buf_cleanup(&b);
}

static void
test_parse_any_value(void)
{
	static const char *const good[] = {
	    "1", "\"s\"", "null", "true", "[]", "{}", "[1,\"a+b\"]", "-0.5",
	};
	static const char *const bad[] = {
	    "", "[", "{\"a\"}", "undefined", "'s'", "1 2", "\"\\ud83d\"",
	};
	struct sio_buf b;
	json_t *v;
	size_t k;

	sio_buf_init(&b);
	for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		v = sio_json_parse(good[k], strlen(good[k]));
		CU_ASSERT_PTR_NOT_NULL_FATAL(v);
		sio_buf_reset(&b);
		CU_ASSERT_EQUAL(sio_json_encode(&b, v), SIO_OK);
		CU_ASSERT_STRING_EQUAL(b.p, good[k]);
		json_decref(v);
	}
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		CU_ASSERT_PTR_NULL(sio_json_parse(bad[k], strlen(bad[k])));
	CU_ASSERT_PTR_NULL(sio_json_parse(NULL, 0));
	CU_ASSERT_EQUAL(sio_json_encode(&b, NULL), SIO_ERR);
	sio_buf_cleanup(&b);
}

static void
test_line_separators_are_escaped(void)
{
	struct sio_buf b;
	json_t *v = sio_json_parse("[\"a\xe2\x80\xa8"
	                           "b\xe2\x80\xa9\xe2\x80\xa7\"]",
	                           15);

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	sio_buf_init(&b);
	CU_ASSERT(sio_json_encode(&b, v) == SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "[\"a\\u2028b\\u2029\xe2\x80\xa7\"]");
	json_decref(v);
	v = sio_json_parse(b.p, b.len);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(v, 0)),
	                       "a\xe2\x80\xa8"
	                       "b\xe2\x80\xa9\xe2\x80\xa7");
	json_decref(v);
	sio_buf_cleanup(&b);
}

/* Nesting up to SIO_JSON_MAX_DEPTH parses; one level more is refused
 * before jansson recurses (a thread's stack holds a few hundred levels);
 * brackets inside strings, escaped quotes included, do not count. */
static void
test_parse_depth_limit(void)
{
	size_t cap = 2 * SIO_JSON_MAX_DEPTH + 64, n;
	char *s = malloc(cap);
	json_t *v;

	for (int extra = 0; extra <= 1; extra++) {
		int depth = SIO_JSON_MAX_DEPTH + extra;

		memset(s, '[', (size_t)depth);
		memset(s + depth, ']', (size_t)depth);
		v = sio_json_parse(s, 2 * (size_t)depth);
		CU_ASSERT_EQUAL(v != NULL, !extra);
		json_decref(v);
	}
	n = (size_t)snprintf(s, cap, "[\"[[[\\\"{{{\", {\"a\": [1]}]");
	CU_ASSERT_EQUAL(sio_json_depth_ok(s, n, 3), 1);
	CU_ASSERT_EQUAL(sio_json_depth_ok(s, n, 2), 0);
	v = sio_json_parse(s, n);
	CU_ASSERT_PTR_NOT_NULL(v);
	json_decref(v);
	free(s);
}

static const struct cu_test tests[] = {
    {"json parse refuses nesting past SIO_JSON_MAX_DEPTH",
     test_parse_depth_limit},
    {"json escapes U+2028 and U+2029, which would cut ack data",
     test_line_separators_are_escaped},
    {"json event encode writes name then args only when there are args",
     test_event_encode},
    {"json event encode refuses bad args and names, leaving the buffer",
     test_event_encode_refuses},
    {"json event parse gives an empty array for missing or null args",
     test_event_parse},
    {"json event parse refuses bodies that are not events",
     test_event_parse_refuses},
    {"json event parse limits the name length", test_event_name_limit},
    {"json keeps non-ASCII raw through parse and encode",
     test_non_ascii_round_trip},
    {"json parse accepts any value and refuses malformed text",
     test_parse_any_value},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("json", tests, NULL, NULL);
}
