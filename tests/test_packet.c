/*
 * test_packet.c: the packet suite. A table of wire strings with the fields
 * the parser must find (or the error it must return), every valid case
 * truncated at every length, and encode round trips for all nine types.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "packet.h"
#include "siogate.h"

struct packet_case {
	const char *in;
	int rc; /* expected return; strlen(in) when valid */
	int type;
	long long id;
	int data_ack;
	const char *endpoint;
	const char *data; /* NULL when the packet has no data part */
};

#define OK(in, type, id, ack, ep, data)                                        \
	{                                                                      \
		in, (int)sizeof(in) - 1, type, id, ack, ep, data               \
	}
#define BAD(in, rc)                                                            \
	{                                                                      \
		in, rc, 0, 0, 0, NULL, NULL                                    \
	}

static const struct packet_case packet_cases[] = {
    OK("0::", 0, -1, 0, "", NULL),
    OK("0::/chat", 0, -1, 0, "/chat", NULL),
    OK("1::", 1, -1, 0, "", NULL),
    OK("1::/chat", 1, -1, 0, "/chat", NULL),
    OK("2::", 2, -1, 0, "", NULL),
    OK("3:::hello", 3, -1, 0, "", "hello"),
    OK("3:1::hello", 3, 1, 0, "", "hello"),
    OK("3::/chat:hi", 3, -1, 0, "/chat", "hi"),
    OK("3:::", 3, -1, 0, "", ""),
    OK("3:::a:b::c:", 3, -1, 0, "", "a:b::c:"),
    OK("3::/chat?x=1:q", 3, -1, 0, "/chat?x=1", "q"),
    OK("4:::{\"a\":1}", 4, -1, 0, "", "{\"a\":1}"),
    OK("4:0::[]", 4, 0, 0, "", "[]"),
    OK("5:::{\"name\":\"noargs\"}", 5, -1, 0, "", "{\"name\":\"noargs\"}"),
    OK("5:1+::{\"name\":\"x\"}", 5, 1, 1, "", "{\"name\":\"x\"}"),
    OK("5:2::{\"name\":\"a:b\"}", 5, 2, 0, "", "{\"name\":\"a:b\"}"),
    OK("5:999999999999999+::{}", 5, 999999999999999LL, 1, "", "{}"),
    OK("6:::1", 6, -1, 0, "", "1"),
    OK("6:::1+[\"ack:x\"]", 6, -1, 0, "", "1+[\"ack:x\"]"),
    OK("6::/chat:7+[42]", 6, -1, 0, "/chat", "7+[42]"),
    OK("7:::1+0", 7, -1, 0, "", "1+0"),
    OK("7::/secret:2", 7, -1, 0, "/secret", "2"),
    OK("7::ep:reason+advice", 7, -1, 0, "ep", "reason+advice"),
    OK("8::", 8, -1, 0, "", NULL),
    OK("3:::\xf0\x9f\x98\x80", 3, -1, 0, "", "\xf0\x9f\x98\x80"),
    BAD("", -2),
    BAD("3", -2),
    BAD("3:", -2),
    BAD("3:1", -2),
    BAD("3:12", -2),
    BAD("3:1+", -2),
    BAD("05::", -1),
    BAD("9::", -1),
    BAD("a::", -1),
    BAD(":::", -1),
    BAD("3;::", -1),
    BAD("3:x:", -1),
    BAD("3:+::", -1),
    BAD("3:1++::", -1),
    BAD("3:1x::", -1),
    BAD("3:01::", -1),
    BAD("3:1000000000000000::", -1),
    BAD("0", -2),
    BAD(" 3::", -1),
};

#define NCASES (sizeof(packet_cases) / sizeof(packet_cases[0]))

static void
check_fields(const struct packet_case *c, const struct sio_packet *p)
{
	CU_ASSERT_EQUAL((int)p->type, c->type);
	CU_ASSERT_EQUAL(p->id, c->id);
	CU_ASSERT_EQUAL(p->data_ack, c->data_ack);
	CU_ASSERT_EQUAL(p->endpoint_len, strlen(c->endpoint));
	CU_ASSERT_NSTRING_EQUAL(p->endpoint, c->endpoint, p->endpoint_len);
	if (c->data == NULL) {
		CU_ASSERT_PTR_NULL(p->data);
		return;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(p->data);
	CU_ASSERT_EQUAL(p->data_len, strlen(c->data));
	CU_ASSERT(memcmp(p->data, c->data, p->data_len) == 0);
}

static void
test_table(void)
{
	struct sio_packet p, sentinel;
	size_t k;
	int rc;

	for (k = 0; k < NCASES; k++) {
		const struct packet_case *c = &packet_cases[k];

		memset(&p, 0x5a, sizeof(p));
		sentinel = p;
		rc = sio_packet_parse(c->in, strlen(c->in), &p);
		CU_ASSERT_EQUAL(rc, c->rc);
		if (rc != c->rc)
			fprintf(stderr, "\ncase \"%s\": got %d\n", c->in, rc);
		if (rc >= 0 && c->rc >= 0)
			check_fields(c, &p);
		else
			CU_ASSERT(memcmp(&p, &sentinel, sizeof(p)) == 0);
	}
}

/*
 * Every prefix of a valid packet is either incomplete (-2) or itself a
 * whole packet; the bytes past the prefix live in a separate allocation so
 * ASan sees any over-read.
 */
static void
test_truncated(void)
{
	struct sio_packet p;
	size_t k, n, len;
	char *copy;
	int rc;

	for (k = 0; k < NCASES; k++) {
		if (packet_cases[k].rc < 0)
			continue;
		len = strlen(packet_cases[k].in);
		for (n = 0; n <= len; n++) {
			copy = malloc(n ? n : 1);
			CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
			memcpy(copy, packet_cases[k].in, n);
			rc = sio_packet_parse(copy, n, &p);
			CU_ASSERT(rc == -2 || rc == (int)n);
			if (n < 3)
				CU_ASSERT_EQUAL(rc, -2);
			if (n == len)
				CU_ASSERT_EQUAL(rc, (int)len);
			free(copy);
		}
	}
}

static void
test_round_trip(void)
{
	struct sio_packet p;
	struct sio_buf b;
	size_t k, len;

	sio_buf_init(&b);
	for (k = 0; k < NCASES; k++) {
		if (packet_cases[k].rc < 0)
			continue;
		len = strlen(packet_cases[k].in);
		CU_ASSERT_EQUAL_FATAL(
		    sio_packet_parse(packet_cases[k].in, len, &p), (int)len);
		sio_buf_reset(&b);
		CU_ASSERT_EQUAL(sio_packet_encode(&b, &p), SIO_OK);
		CU_ASSERT_EQUAL(b.len, len);
		CU_ASSERT_STRING_EQUAL(b.p, packet_cases[k].in);
	}
	sio_buf_cleanup(&b);
}

static void
test_encode_all_types(void)
{
	static const char *const want[] = {
	    "0:5:/ep:d", "1:5:/ep:d", "2:5:/ep:d", "3:5:/ep:d", "4:5:/ep:d",
	    "5:5:/ep:d", "6:5:/ep:d", "7:5:/ep:d", "8:5:/ep:d",
	};
	struct sio_packet p;
	struct sio_buf b;
	int t;

	sio_buf_init(&b);
	for (t = 0; t <= SIO_PKT_NOOP; t++) {
		sio_packet_init(&p, (enum sio_packet_type)t);
		sio_buf_reset(&b);
		CU_ASSERT_EQUAL(sio_packet_encode(&b, &p), SIO_OK);
		CU_ASSERT_EQUAL(b.len, 3);
		CU_ASSERT(b.p[0] == '0' + t && strcmp(b.p + 1, "::") == 0);
		p.id = 5;
		p.endpoint = "/ep";
		p.endpoint_len = 3;
		p.data = "d";
		p.data_len = 1;
		sio_buf_reset(&b);
		CU_ASSERT_EQUAL(sio_packet_encode(&b, &p), SIO_OK);
		CU_ASSERT_STRING_EQUAL(b.p, want[t]);
	}
	sio_buf_cleanup(&b);
}

static void
test_encode_data_ack_and_empty_data(void)
{
	struct sio_packet p;
	struct sio_buf b;

	sio_buf_init(&b);
	sio_packet_init(&p, SIO_PKT_EVENT);
	p.id = 12;
	p.data_ack = 1;
	p.data = "{}";
	p.data_len = 2;
	CU_ASSERT_EQUAL(sio_packet_encode(&b, &p), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "5:12+::{}");
	sio_buf_reset(&b);
	sio_packet_init(&p, SIO_PKT_MESSAGE);
	p.data = "";
	CU_ASSERT_EQUAL(sio_packet_encode(&b, &p), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "3:::");
	sio_buf_cleanup(&b);
}

static void
test_encode_refuses_colon_in_endpoint(void)
{
	struct sio_packet p;
	struct sio_buf b;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_buf_puts(&b, "keep"), SIO_OK);
	sio_packet_init(&p, SIO_PKT_CONNECT);
	p.endpoint = "/a:b";
	p.endpoint_len = 4;
	CU_ASSERT_EQUAL(sio_packet_encode(&b, &p), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(b.p, "keep");
	p.endpoint_len = 2;
	CU_ASSERT_EQUAL(sio_packet_encode(&b, &p), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "keep1::/a");
	sio_buf_cleanup(&b);
}

static void
test_ack_parse(void)
{
	const char *args;
	size_t args_len;
	long long id;

	CU_ASSERT_EQUAL(sio_packet_ack_parse("1", 1, &id, &args, &args_len),
	                SIO_OK);
	CU_ASSERT_EQUAL(id, 1);
	CU_ASSERT_PTR_NULL(args);
	CU_ASSERT_EQUAL(
	    sio_packet_ack_parse("1+[\"a+b\"]", 9, &id, &args, &args_len),
	    SIO_OK);
	CU_ASSERT_EQUAL(id, 1);
	CU_ASSERT_EQUAL(args_len, 7);
	CU_ASSERT_NSTRING_EQUAL(args, "[\"a+b\"]", 7);
	CU_ASSERT_EQUAL(sio_packet_ack_parse("42+", 3, &id, &args, &args_len),
	                SIO_OK);
	CU_ASSERT_EQUAL(id, 42);
	CU_ASSERT_PTR_NOT_NULL(args);
	CU_ASSERT_EQUAL(args_len, 0);
	CU_ASSERT_EQUAL(sio_packet_ack_parse("", 0, &id, &args, &args_len),
	                SIO_ERR);
	CU_ASSERT_EQUAL(sio_packet_ack_parse("+[1]", 4, &id, &args, &args_len),
	                SIO_ERR);
	CU_ASSERT_EQUAL(sio_packet_ack_parse("1x", 2, &id, &args, &args_len),
	                SIO_ERR);
	CU_ASSERT_EQUAL(
	    sio_packet_ack_parse("1234567890123456", 16, &id, &args, &args_len),
	    SIO_ERR);
	CU_ASSERT_EQUAL(sio_packet_ack_parse(NULL, 0, &id, &args, &args_len),
	                SIO_ERR);
}

static void
test_error_parse(void)
{
	int reason, advice;

	CU_ASSERT_EQUAL(sio_packet_error_parse("1+0", 3, &reason, &advice),
	                SIO_OK);
	CU_ASSERT_EQUAL(reason, SIO_EREASON_NOT_HANDSHAKEN);
	CU_ASSERT_EQUAL(advice, SIO_EADVICE_RECONNECT);
	CU_ASSERT_EQUAL(sio_packet_error_parse("2", 1, &reason, &advice),
	                SIO_OK);
	CU_ASSERT_EQUAL(reason, SIO_EREASON_UNAUTHORIZED);
	CU_ASSERT_EQUAL(advice, SIO_EADVICE_NONE);
	CU_ASSERT_EQUAL(sio_packet_error_parse("", 0, &reason, &advice),
	                SIO_ERR);
	CU_ASSERT_EQUAL(sio_packet_error_parse("1+", 2, &reason, &advice),
	                SIO_ERR);
	CU_ASSERT_EQUAL(
	    sio_packet_error_parse("undefined+0", 11, &reason, &advice),
	    SIO_ERR);
	CU_ASSERT_EQUAL(sio_packet_error_parse("1+0x", 4, &reason, &advice),
	                SIO_ERR);
	CU_ASSERT_EQUAL(
	    sio_packet_error_parse("1234567890", 10, &reason, &advice),
	    SIO_ERR);
}

static void
test_error_encode(void)
{
	struct sio_buf b;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(sio_packet_error_encode(&b, "", 1, 0), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "7:::1+0");
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(
	    sio_packet_error_encode(&b, "/secret", 2, SIO_EADVICE_NONE),
	    SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "7::/secret:2");
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(sio_packet_error_encode(&b, NULL, 0, SIO_EADVICE_NONE),
	                SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "7:::0");
	CU_ASSERT_EQUAL(sio_packet_error_encode(&b, "/a:b", 0, 0), SIO_ERR);
	CU_ASSERT_STRING_EQUAL(b.p, "7:::0");
	sio_buf_cleanup(&b);
}

static void
test_type_names(void)
{
	CU_ASSERT_STRING_EQUAL(sio_packet_type_name(0), "disconnect");
	CU_ASSERT_STRING_EQUAL(sio_packet_type_name(5), "event");
	CU_ASSERT_STRING_EQUAL(sio_packet_type_name(8), "noop");
	CU_ASSERT_STRING_EQUAL(sio_packet_type_name(9), "unknown");
	CU_ASSERT_STRING_EQUAL(sio_packet_type_name(-1), "unknown");
}

static void
test_buf(void)
{
	struct sio_buf b;
	char *s;
	int k;

	sio_buf_init(&b);
	CU_ASSERT_PTR_NULL(sio_buf_steal(&b));
	CU_ASSERT_EQUAL(sio_buf_append(&b, "", 0), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "");
	for (k = 0; k < 1000; k++)
		CU_ASSERT_EQUAL(sio_buf_printf(&b, "%d,", k % 10), SIO_OK);
	CU_ASSERT_EQUAL(b.len, 2000);
	CU_ASSERT_EQUAL(strlen(b.p), 2000);
	sio_buf_truncate(&b, 4);
	CU_ASSERT_STRING_EQUAL(b.p, "0,1,");
	CU_ASSERT_EQUAL(sio_buf_putc(&b, 'x'), SIO_OK);
	CU_ASSERT_EQUAL(sio_buf_puts(&b, "yz"), SIO_OK);
	CU_ASSERT_STRING_EQUAL(b.p, "0,1,xyz");
	sio_buf_reset(&b);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(sio_buf_puts(&b, "abc"), SIO_OK);
	s = sio_buf_steal(&b);
	CU_ASSERT_STRING_EQUAL(s, "abc");
	CU_ASSERT_PTR_NULL(b.p);
	CU_ASSERT_EQUAL(b.len, 0);
	free(s);
	sio_buf_cleanup(&b);
}

static const struct cu_test tests[] = {
    {"packet parse matches the table of valid and malformed packets",
     test_table},
    {"packet parse of every prefix is incomplete or a whole packet",
     test_truncated},
    {"packet encode gives back the bytes every valid packet was parsed from",
     test_round_trip},
    {"packet encode writes all nine types with and without fields",
     test_encode_all_types},
    {"packet encode writes the data ack plus and empty data",
     test_encode_data_ack_and_empty_data},
    {"packet encode refuses an endpoint with a colon and leaves the buffer",
     test_encode_refuses_colon_in_endpoint},
    {"packet ack parse splits on the first plus only", test_ack_parse},
    {"packet error parse reads reason and optional advice", test_error_parse},
    {"packet error encode writes reason plus advice", test_error_encode},
    {"packet type names are the protocol's", test_type_names},
    {"buf appends grow, truncate and steal the storage", test_buf},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("packet", tests, NULL, NULL);
}
