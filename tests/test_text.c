/*
 * test_text.c: the text suite. Exact jsonp and htmlfile bodies (a
 * "</script>" and a U+2028 must not escape the string literal), the
 * htmlfile prelude, URL and form decoding, and the jsonp POST body back to
 * the UTF-8 payload it carried.
 */
#include <string.h>

#include "cu.h"
#include "siogate.h"
#include "text.h"

#define LS "\xe2\x80\xa8" /* U+2028 LINE SEPARATOR */
#define PS "\xe2\x80\xa9" /* U+2029 PARAGRAPH SEPARATOR */
#define GRIN "\xf0\x9f\x98\x80"

/* Escapes in into a fresh buffer and compares the literal with want. */
static void
expect_js(const char *in, size_t len, const char *want)
{
	struct sio_buf b;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL_FATAL(sio_text_js_string(&b, in, len), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, want);
	CU_ASSERT_EQUAL(b.len, strlen(want));
	sio_buf_cleanup(&b);
}

static void
test_jsonp_script_and_line_separator(void)
{
	static const char msg[] = "3:::a</script>" LS "b";
	struct sio_buf b;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_text_jsonp(&b, "0", msg, sizeof(msg) - 1), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p,
	                       "io.j[0](\"3:::a\\u003c\\/script>\\u2028b\");");
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(sio_text_jsonp(&b, "12", "8::", 3), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "io.j[12](\"8::\");");
	sio_buf_cleanup(&b);
}

static void
test_htmlfile(void)
{
	static const char msg[] =
	    "5:::{\"name\":\"echo\",\"args\":[\"a/b</script>" LS "\"]}";
	struct sio_buf b;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_text_htmlfile(&b, "1::", 3), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "<script>_(\"1::\");</script>");
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(sio_text_htmlfile(&b, msg, sizeof(msg) - 1), SIO_OK);
	CU_ASSERT_STRING_EQUAL(
	    b.p, "<script>_(\"5:::{\\\"name\\\":\\\"echo\\\",\\\"args\\\":"
	         "[\\\"a\\/b\\u003c\\/script>\\u2028\\\"]}\");</script>");
	CU_ASSERT_EQUAL(sio_text_htmlfile(&b, "\xff", 1), SIO_ERR);
	sio_buf_cleanup(&b);
}

static void
test_prelude(void)
{
	static const char head[] = "<html><body><script>var _ = function "
	                           "(msg) { parent.s._(msg, document); };"
	                           "</script>";
	const char *p = sio_text_htmlfile_prelude();
	size_t k;

	CU_ASSERT_EQUAL(strlen(p), SIO_HTMLFILE_PRELUDE_LEN);
	CU_ASSERT_EQUAL(strlen(p), 256);
	CU_ASSERT(strncmp(p, head, sizeof(head) - 1) == 0);
	CU_ASSERT_EQUAL(sizeof(head) - 1 + 173, 256);
	for (k = sizeof(head) - 1; k < 256; k++)
		CU_ASSERT_EQUAL(p[k], ' ');
}

static void
test_js_string(void)
{
	expect_js("", 0, "\"\"");
	expect_js("a\"b\\c/d", 7, "\"a\\\"b\\\\c\\/d\"");
	expect_js("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
	expect_js("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
	expect_js("a\0b", 3, "\"a\\u0000b\"");
	expect_js(GRIN "\xc3\xa9" PS, 9, "\"" GRIN "\xc3\xa9\\u2029\"");
	/* Other characters starting with E2 stay raw. */
	expect_js("\xe2\x82\xac\xe2\x80\xa7", 6,
	          "\"\xe2\x82\xac\xe2\x80\xa7\"");
	expect_js(LS LS, 6, "\"\\u2028\\u2028\"");
}

/* "<!--<script" in a script element would keep every later "</script>"
 * of an htmlfile stream from ending its element: no '<' goes out raw. */
static void
test_htmlfile_comment_and_script_open(void)
{
	static const char msg[] = "3:::<!--<script>x";
	struct sio_buf b;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_text_htmlfile(&b, msg, sizeof(msg) - 1), SIO_OK);
	CU_ASSERT_STRING_EQUAL(
	    b.p, "<script>_(\"3:::\\u003c!--\\u003cscript>x\");</script>");
	/* The only '<' left are those of the element's own two tags. */
	CU_ASSERT_EQUAL(strchr(b.p + 1, '<'), strstr(b.p, "</script>"));
	sio_buf_cleanup(&b);
	expect_js("<<", 2, "\"\\u003c\\u003c\"");
}

static void
test_js_string_refuses_invalid_utf8(void)
{
	static const char *const bad[] = {
	    "\xff", "a\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xe2\x80",
	};
	struct sio_buf b;
	size_t k;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_buf_puts(&b, "keep"), SIO_OK);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		CU_ASSERT_EQUAL(sio_text_js_string(&b, bad[k], strlen(bad[k])),
		                SIO_ERR);
		CU_ASSERT_EQUAL(sio_text_jsonp(&b, "0", bad[k], strlen(bad[k])),
		                SIO_ERR);
	}
	CU_ASSERT_STRING_EQUAL(b.p, "keep");
	sio_buf_cleanup(&b);
}

static void
test_jsonp_index(void)
{
	static const char *const bad[] = {
	    "", "-1", "1a", "0x1", " 1", "1;alert(1)", "1234567890",
	};
	struct sio_buf b;
	size_t k;

	sio_buf_init(&b);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		CU_ASSERT_EQUAL(sio_text_jsonp(&b, bad[k], "8::", 3), SIO_ERR);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(sio_text_jsonp(&b, "123456789", "8::", 3), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "io.j[123456789](\"8::\");");
	sio_buf_cleanup(&b);
}

/* The route and the encoder apply the one rule: what the validator
 * accepts encodes, what it refuses does not. */
static void
test_jsonp_index_valid(void)
{
	static const struct {
		const char *s;
		int valid;
	} cases[] = {
	    {"0", 1},
	    {"7", 1},
	    {"123456789", 1},
	    {"000000000", 1},
	    {"", 0},
	    {"1234567890", 0},
	    {"12345678901234567890123", 0},
	    {"1.5", 0},
	    {"1 ", 0},
	    {"+1", 0},
	};
	struct sio_buf b;

	sio_buf_init(&b);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		size_t n = strlen(cases[k].s);
		CU_ASSERT_EQUAL(sio_text_jsonp_index_valid(cases[k].s, n),
		                cases[k].valid);
		sio_buf_reset(&b);
		CU_ASSERT_EQUAL(sio_text_jsonp(&b, cases[k].s, "1::", 3),
		                cases[k].valid ? SIO_OK : SIO_ERR);
	}
	/* a digit cut off where the length says */
	CU_ASSERT_EQUAL(sio_text_jsonp_index_valid("12345678901", 9), 1);
	CU_ASSERT_EQUAL(sio_text_jsonp_index_valid("12a", 2), 1);
	sio_buf_cleanup(&b);
}

static void
test_url_decode(void)
{
	struct sio_buf b;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_text_url_decode(&b, "a+b%20c%3a%3A%2B", 16, 1),
	                SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "a b c::+");
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(sio_text_url_decode(&b, "a+b%00", 6, 0), SIO_OK);
	CU_ASSERT_EQUAL(b.len, 4);
	CU_ASSERT(memcmp(b.p, "a+b\0", 4) == 0);
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(sio_text_url_decode(&b, "%e2%82%ac", 9, 1), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "\xe2\x82\xac");
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(sio_buf_puts(&b, "keep"), SIO_OK);
	CU_ASSERT_EQUAL(sio_text_url_decode(&b, "ab%", 3, 1), SIO_ERR);
	CU_ASSERT_EQUAL(sio_text_url_decode(&b, "ab%4", 4, 1), SIO_ERR);
	CU_ASSERT_EQUAL(sio_text_url_decode(&b, "a%g0", 4, 1), SIO_ERR);
	CU_ASSERT_EQUAL(sio_text_url_decode(&b, "%0", 2, 1), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(b.p, "keep");
	sio_buf_cleanup(&b);
}

static void
test_form_field(void)
{
	static const char body[] = "i=1&d=a+b%26c&empty=&flag&dd=no";
	struct sio_buf b;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_text_form_field(&b, body, sizeof(body) - 1, "d"),
	                SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "a b&c");
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(sio_text_form_field(&b, body, sizeof(body) - 1, "i"),
	                SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "1");
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(
	    sio_text_form_field(&b, body, sizeof(body) - 1, "empty"), SIO_OK);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(sio_text_form_field(&b, body, sizeof(body) - 1, "flag"),
	                SIO_OK);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(sio_text_form_field(&b, body, sizeof(body) - 1, "x"),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_text_form_field(&b, body, sizeof(body) - 1, "e"),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_text_form_field(&b, "", 0, "d"), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_text_form_field(&b, "d=%zz", 5, "d"), SIO_ERR);
	CU_ASSERT_EQUAL(b.len, 0);
	sio_buf_cleanup(&b);
}

/* Decodes a jsonp POST body into a fresh buffer and compares. */
static void
expect_post(const char *body, const char *want, size_t want_len)
{
	struct sio_buf b;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL_FATAL(
	    sio_text_jsonp_post_decode(&b, body, strlen(body)), SIO_OK);
	CU_ASSERT_EQUAL(b.len, want_len);
	CU_ASSERT(memcmp(b.p, want, want_len) == 0);
	sio_buf_cleanup(&b);
}

static void
test_jsonp_post_decode(void)
{
	static const char framed[] = "\xef\xbf\xbd"
	                             "5\xef\xbf\xbd"
	                             "6:::7";

	expect_post("d=%223%3A%3A%3Ahello+world%22", "3:::hello world", 15);
	expect_post("d=%225%3A1%2B%3A%3A%7B%7D%22", "5:1+::{}", 8);
	expect_post("d=%22%5Cud83d%5Cude00%22", GRIN, 4);
	expect_post("d=%22%F0%9F%98%80%22", GRIN, 4);
	expect_post("d=%22a%5Cnb%5C%22%5C%5C%5C%2F%5Ct%5Cu0000%22",
	            "a\nb\"\\/\t\0", 8);
	expect_post("d=%22a%5Ctb%22", "a\tb", 3);
	expect_post("x=1&d=%22%5Cufffd5%5Cufffd6%3A%3A%3A7%22&t=2", framed,
	            sizeof(framed) - 1);
	expect_post("d=+%223%3A%3A%22+", "3::", 3);
}

static void
test_jsonp_post_decode_refuses_bad_bodies(void)
{
	static const char *const bad[] = {
	    "",                      /* no field */
	    "x=%223%3A%3A%22",       /* no d */
	    "d=",                    /* empty */
	    "d=3%3A%3A",             /* not a JSON string */
	    "d=%223%3A%3A",          /* unterminated */
	    "d=%5B%223%3A%3A%22%5D", /* an array */
	    "d=%22%5Cud83d%22",      /* lone high surrogate */
	    "d=%22%5Cude00%22",      /* lone low surrogate */
	    "d=%22%5Cud83dx%22",
	    "d=%22%FF%22",       /* invalid UTF-8 */
	    "d=%22%ED%A0%80%22", /* encoded surrogate */
	    "d=%22a%22%22",      /* trailing text */
	    "d=%22%5Cq%22",      /* bad escape */
	    "d=%22a%0Ab%22",     /* raw control character */
	    "d=%2",              /* bad percent escape */
	};
	struct sio_buf b;
	size_t k;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_buf_puts(&b, "keep"), SIO_OK);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		CU_ASSERT_EQUAL(
		    sio_text_jsonp_post_decode(&b, bad[k], strlen(bad[k])),
		    SIO_ERR);
	CU_ASSERT_STRING_EQUAL(b.p, "keep");
	sio_buf_cleanup(&b);
}

static const struct cu_test tests[] = {
    {"text jsonp escapes a closing script tag and U+2028",
     test_jsonp_script_and_line_separator},
    {"text htmlfile wraps the escaped payload in a script call", test_htmlfile},
    {"text htmlfile writes '<' as \\u003c, so \"<!--<script\" cannot swallow "
     "the stream",
     test_htmlfile_comment_and_script_open},
    {"text htmlfile prelude is the 0.9 script padded to 256 bytes",
     test_prelude},
    {"text js string escapes controls, quotes, backslash, slash and '<' only",
     test_js_string},
    {"text js string refuses invalid UTF-8 and leaves the buffer",
     test_js_string_refuses_invalid_utf8},
    {"text jsonp accepts an index of one to nine digits only",
     test_jsonp_index},
    {"text jsonp index validator is the rule the encoder applies",
     test_jsonp_index_valid},
    {"text url decode reads percent escapes and plus as space",
     test_url_decode},
    {"text form field finds a field among others", test_form_field},
    {"text jsonp post decode gives back the UTF-8 payload",
     test_jsonp_post_decode},
    {"text jsonp post decode refuses bad bodies and leaves the buffer",
     test_jsonp_post_decode_refuses_bad_bodies},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("text", tests, NULL, NULL);
}
