/*
 * test_payload.c: the payload suite. UTF-16 lengths of UTF-8 text, the
 * framing of several packets with lengths in UTF-16 units (the observed
 * example of the protocol notes included), malformed framings, and every
 * valid payload truncated at every length and fed byte by byte.
 */
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "payload.h"
#include "siogate.h"

#define M "\xef\xbf\xbd"        /* U+FFFD, the frame marker */
#define GRIN "\xf0\x9f\x98\x80" /* U+1F600, two UTF-16 units */

struct utf16_case {
	const char *in;
	size_t len;
	ssize_t units;
};

#define U(s, n)                                                                \
	{                                                                      \
		s, sizeof(s) - 1, n                                            \
	}

static const struct utf16_case utf16_cases[] = {
    U("", 0),
    U("abc", 3),
    U("a\0b", 3),
    U("\xc3\xa9", 1),     /* é */
    U("\xe2\x82\xac", 1), /* € */
    U(M, 1),
    U(GRIN, 2),
    U("a" GRIN "b\xc3\xa9", 5),
    U("\xf4\x8f\xbf\xbf", 2), /* U+10FFFF */
    U("\xed\x9f\xbf", 1),     /* U+D7FF */
    U("\xee\x80\x80", 1),     /* U+E000 */
    U("\x80", -1),            /* lone continuation */
    U("\xc3", -1),            /* truncated */
    U("\xe2\x82", -1),
    U("\xf0\x9f\x98", -1),
    U("\xc0\xaf", -1), /* overlong '/' */
    U("\xc1\xbf", -1),
    U("\xe0\x80\xaf", -1),             /* overlong */
    U("\xf0\x80\x80\xaf", -1),         /* overlong */
    U("\xed\xa0\x80", -1),             /* U+D800 surrogate */
    U("\xed\xbf\xbf", -1),             /* U+DFFF surrogate */
    U("\xed\xa0\xbd\xed\xb8\x80", -1), /* CESU-8 pair */
    U("\xf4\x90\x80\x80", -1),         /* U+110000 */
    U("\xf5\x80\x80\x80", -1),
    U("\xff", -1),
    U("\xc3\x28", -1), /* bad continuation */
    U("ab\xe2\x28\xa1", -1),
};

static void
test_utf16_len(void)
{
	size_t k;

	for (k = 0; k < sizeof(utf16_cases) / sizeof(utf16_cases[0]); k++) {
		CU_ASSERT_EQUAL(sio_payload_utf16_len(utf16_cases[k].in,
		                                      utf16_cases[k].len),
		                utf16_cases[k].units);
	}
}

static void
test_frame_length_in_utf16_units(void)
{
	static const char pkt[] = "6:::1+[\"ack:" GRIN "x\"]";
	struct sio_slice s;
	struct sio_buf b;

	CU_ASSERT_EQUAL(sizeof(pkt) - 1, 19);
	CU_ASSERT_EQUAL(sio_payload_utf16_len(pkt, sizeof(pkt) - 1), 17);
	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_payload_append_framed(&b, pkt, sizeof(pkt) - 1),
	                SIO_OK);
	CU_ASSERT_EQUAL(b.len, sizeof(M "17" M) - 1 + 19);
	CU_ASSERT(memcmp(b.p, M "17" M, 8) == 0);
	CU_ASSERT(memcmp(b.p + 8, pkt, 19) == 0);
	CU_ASSERT_EQUAL(sio_payload_parse(b.p, b.len, &s), (int)b.len);
	CU_ASSERT_EQUAL(s.len, 19);
	CU_ASSERT(s.p == b.p + 8);
	sio_buf_cleanup(&b);
}

static void
test_two_packets_round_trip(void)
{
	static const char in[] = M "3" M "abc" M "3" M "def";
	struct sio_slice out[4];
	struct sio_buf b;
	size_t n = 0;

	CU_ASSERT_EQUAL_FATAL(sio_payload_split(in, sizeof(in) - 1, out, 4, &n),
	                      SIO_OK);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT(out[0].len == 3 && memcmp(out[0].p, "abc", 3) == 0);
	CU_ASSERT(out[1].len == 3 && memcmp(out[1].p, "def", 3) == 0);
	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_payload_encode(&b, out, n), SIO_OK);
	CU_ASSERT_EQUAL(b.len, sizeof(in) - 1);
	CU_ASSERT(memcmp(b.p, in, b.len) == 0);
	sio_buf_cleanup(&b);
}

static void
test_single_packet_unframed(void)
{
	struct sio_slice one = {"3:::hi " M, 10}, out[2];
	struct sio_buf b;
	size_t n = 0;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_payload_encode(&b, &one, 1), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "3:::hi " M);
	CU_ASSERT_EQUAL(sio_payload_split(b.p, b.len, out, 2, &n), SIO_OK);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT(out[0].p == b.p && out[0].len == 10);
	/* Bytes before a marker make one (bad) packet, not a framing. */
	CU_ASSERT_EQUAL(sio_payload_split("x" M "3" M "abc", 11, out, 2, &n),
	                SIO_OK);
	CU_ASSERT(n == 1 && out[0].len == 11);
	CU_ASSERT_EQUAL(sio_payload_parse("x" M "3" M "abc", 11, out), -1);
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(sio_payload_encode(&b, &one, 0), SIO_OK);
	CU_ASSERT_EQUAL(b.len, 0);
	sio_buf_cleanup(&b);
}

/* The payload the 0.9 server sent after a framed POST (protocol notes §3). */
static const char observed[] = M "17" M "6:::1+[\"ack:" GRIN "x\"]" M "34" M
                                 "5:::{\"name\":\"echo\",\"args\":[\"" GRIN
                                 "x\"]}" M "5" M "6:::7" M "10" M "3:::got:hi";

static void
test_observed_payload(void)
{
	static const char *const want[] = {
	    "6:::1+[\"ack:" GRIN "x\"]",
	    "5:::{\"name\":\"echo\",\"args\":[\"" GRIN "x\"]}",
	    "6:::7",
	    "3:::got:hi",
	};
	struct sio_slice out[8];
	struct sio_buf b;
	size_t n = 0, k;

	CU_ASSERT_EQUAL_FATAL(
	    sio_payload_split(observed, sizeof(observed) - 1, out, 8, &n),
	    SIO_OK);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	for (k = 0; k < 4; k++) {
		CU_ASSERT_EQUAL(out[k].len, strlen(want[k]));
		CU_ASSERT(memcmp(out[k].p, want[k], out[k].len) == 0);
	}
	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_payload_encode(&b, out, n), SIO_OK);
	CU_ASSERT_EQUAL(b.len, sizeof(observed) - 1);
	CU_ASSERT(memcmp(b.p, observed, b.len) == 0);
	sio_buf_cleanup(&b);
}

struct bad_case {
	const char *in;
	size_t len;
	int parse_rc; /* sio_payload_parse on the whole input */
};

#define B(s, rc)                                                               \
	{                                                                      \
		s, sizeof(s) - 1, rc                                           \
	}

static const struct bad_case bad_cases[] = {
    B(M "x" M "abc", -1), /* bad length digit */
    B(M M "abc", -1),     /* empty length */
    B(M "0" M, -1),       /* empty packet */
    B(M "-3" M "abc", -1),
    B(M "+3" M "abc", -1),
    B(M " 3" M "abc", -1),
    B(M "3 " M "abc", -1),
    B(M "1234567890" M "abc", -1),         /* ten digits */
    B(M "3\357\277\276abc", -1),           /* U+FFFE is no marker */
    B(M "1" M GRIN, -1),                   /* length ends inside a pair */
    B(M "3" M "a\xc3\x28", -1),            /* invalid UTF-8 */
    B(M "3" M "a\xed\xa0\x80", -1),        /* surrogate */
    B(M "3" M "ab\xc0\xaf", -1),           /* overlong */
    B("\357\2773" M "abc", -1),            /* half a marker */
    B(M "3" M "abcx", 10),                 /* trailing junk */
    B(M "3" M "abc" M "3" M "de", 10),     /* short second element */
    B(M "3" M "abc" M "3" M "d\377e", 10), /* invalid second element */
    B(M "3" M "abc" M, 10),
    B(M "3" M "abc\357", 10),
    B("\3773:::", -1), /* unframed, invalid UTF-8 */
    B("3:::\xc3", -1),
    B("", -2),
};

static void
test_malformed(void)
{
	struct sio_slice out[4], s;
	size_t k, n;
	char *copy;

	for (k = 0; k < sizeof(bad_cases) / sizeof(bad_cases[0]); k++) {
		copy = malloc(bad_cases[k].len + 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
		memcpy(copy, bad_cases[k].in, bad_cases[k].len);
		CU_ASSERT_EQUAL(
		    sio_payload_split(copy, bad_cases[k].len, out, 4, &n),
		    SIO_ERR);
		if (bad_cases[k].in[0] == M[0] || bad_cases[k].len == 0)
			CU_ASSERT_EQUAL(
			    sio_payload_parse(copy, bad_cases[k].len, &s),
			    bad_cases[k].parse_rc);
		free(copy);
	}
}

static void
test_too_many_packets(void)
{
	static const char in[] = M "3" M "abc" M "3" M "def" M "3" M "ghi";
	struct sio_slice out[3];
	size_t n = 0;

	CU_ASSERT_EQUAL(sio_payload_split(in, sizeof(in) - 1, out, 2, &n),
	                SIO_ERR);
	CU_ASSERT_EQUAL(sio_payload_split(in, sizeof(in) - 1, out, 3, &n),
	                SIO_OK);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(sio_payload_split("3:::", 4, out, 0, &n), SIO_ERR);
}

static void
test_encode_refuses_invalid_utf8(void)
{
	struct sio_slice pk[2] = {{"3:::a", 5}, {"3:::\xc3", 5}};
	struct sio_buf b;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_buf_puts(&b, "keep"), SIO_OK);
	CU_ASSERT_EQUAL(sio_payload_encode(&b, pk, 2), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(b.p, "keep");
	CU_ASSERT_EQUAL(sio_payload_encode(&b, pk + 1, 1), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(b.p, "keep");
	CU_ASSERT_EQUAL(sio_payload_append_framed(&b, "", 0), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(b.p, "keep");
	sio_buf_cleanup(&b);
}

static const struct {
	const char *in;
	size_t len;
	size_t npkts;
} valid_payloads[] = {
    {M "3" M "abc" M "3" M "def", 20, 2},
    {observed, sizeof(observed) - 1, 4},
    {M "17" M "6:::1+[\"ack:" GRIN "x\"]", 27, 1},
    {M "1" M "x" M "2" M GRIN M "3" M "\xe2\x80\xa8" GRIN, 33, 3},
};

#define NVALID (sizeof(valid_payloads) / sizeof(valid_payloads[0]))

/*
 * Every proper prefix of a framed payload is an error for split unless it
 * ends between elements, and -2 or a whole first element for parse, never
 * a crash; each prefix sits in its own allocation so ASan sees an
 * over-read.
 */
static void
test_truncated(void)
{
	struct sio_slice out[8], s;
	size_t k, cut, n, bound;
	char *copy;
	int rc;

	for (k = 0; k < NVALID; k++) {
		bound = 0;
		for (cut = 0; cut < valid_payloads[k].len; cut++) {
			copy = malloc(cut ? cut : 1);
			CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
			memcpy(copy, valid_payloads[k].in, cut);
			rc = sio_payload_parse(copy + bound, cut - bound, &s);
			CU_ASSERT(rc == -2 || rc == (int)(cut - bound));
			if (rc > 0) {
				bound = cut;
				CU_ASSERT_EQUAL(
				    sio_payload_split(copy, cut, out, 8, &n),
				    SIO_OK);
			} else {
				CU_ASSERT_EQUAL(
				    sio_payload_split(copy, cut, out, 8, &n),
				    SIO_ERR);
			}
			free(copy);
		}
	}
}

/* A reader that gets one byte more each time finds the elements in order. */
static void
test_byte_by_byte(void)
{
	struct sio_slice s;
	size_t k, start, end, count;
	char *copy;
	int rc;

	for (k = 0; k < NVALID; k++) {
		start = 0;
		count = 0;
		for (end = 0; end <= valid_payloads[k].len; end++) {
			copy = malloc(end - start + 1);
			CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
			memcpy(copy, valid_payloads[k].in + start, end - start);
			rc = sio_payload_parse(copy, end - start, &s);
			free(copy);
			CU_ASSERT(rc == -2 || rc == (int)(end - start));
			if (rc > 0) {
				start = end;
				count++;
			}
		}
		CU_ASSERT_EQUAL(start, valid_payloads[k].len);
		CU_ASSERT_EQUAL(count, valid_payloads[k].npkts);
	}
}

static const struct cu_test tests[] = {
    {"payload utf16 length counts units and rejects invalid UTF-8",
     test_utf16_len},
    {"payload frames a packet with its length in UTF-16 units",
     test_frame_length_in_utf16_units},
    {"payload split and encode of two packets give back the same bytes",
     test_two_packets_round_trip},
    {"payload of a single packet travels unframed",
     test_single_packet_unframed},
    {"payload split reads the payload the 0.9 server was seen sending",
     test_observed_payload},
    {"payload split refuses malformed framing and parse says why",
     test_malformed},
    {"payload split refuses more packets than the caller allows",
     test_too_many_packets},
    {"payload encode refuses invalid UTF-8 and leaves the buffer",
     test_encode_refuses_invalid_utf8},
    {"payload truncated mid element is an error, never a crash",
     test_truncated},
    {"payload parse fed byte by byte finds every element", test_byte_by_byte},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("payload", tests, NULL, NULL);
}
