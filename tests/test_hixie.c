/*
 * test_hixie.c: the hixie-76 suite (wsd/hixie.c). Request heads as a table
 * (the draft's example, the heads lighttpd, nginx and Apache forward, and
 * malformed ones), every valid head truncated at every length, the key
 * numbers and digest of the draft's example, the exact 101 head checked as
 * the flashsocket SWF checks it, and the frame codec: a table, truncation,
 * frames split across reads, invalid UTF-8 and oversized messages.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cu.h"
#include "siogate.h"
#include "../wsd/hixie.h"

/* The draft-76 example (section 1.3), as the SWF would send it. */
#define KEY1 "18x 6]8vM;54 *(5:  {   U1]8  z [  8"
#define KEY2 "1_ tx7X d  <  nw  334J702) 7]o}` 0"
#define KEY3 "Tm[K T2u"
#define ANSWER "fQJ,fN/4F4!~K~MH"
#define SWF_HEAD                                                               \
	"GET /socket.io/1/flashsocket/abc HTTP/1.1\r\n"                        \
	"Upgrade: WebSocket\r\n"                                               \
	"Connection: Upgrade\r\n"                                              \
	"Host: example.com\r\n"                                                \
	"Origin: http://example.com\r\n"                                       \
	"Cookie: a=b\r\n"                                                      \
	"Sec-WebSocket-Key1: " KEY1 "\r\n"                                     \
	"Sec-WebSocket-Key2: " KEY2 "\r\n"                                     \
	"\r\n"

struct req_case {
	const char *in;
	int rc;        /* expected return; strlen(in) when valid */
	int rfc6455;   /* on -1 */
	const char *v; /* valid: path|host|origin|protocol|fwd_proto|fwd_for */
};

#define OK(in, fields)                                                         \
	{                                                                      \
		in, (int)sizeof(in) - 1, 0, fields                             \
	}
#define BAD(in, rc, v6)                                                        \
	{                                                                      \
		in, rc, v6, NULL                                               \
	}

static const struct req_case req_cases[] = {
    OK(SWF_HEAD, "/socket.io/1/flashsocket/abc|example.com|"
                 "http://example.com||||"),
    /* lighttpd mod_proxy with proxy.header upgrade */
    OK("GET /socket.io/1/flashsocket/s?t=1 HTTP/1.1\r\n"
       "Host: 127.0.0.1:8080\r\n"
       "Upgrade: WebSocket\r\n"
       "Connection: close, upgrade\r\n"
       "Origin: http://127.0.0.1:8080\r\n"
       "Sec-WebSocket-Key1: " KEY1 "\r\n"
       "Sec-WebSocket-Key2: " KEY2 "\r\n"
       "X-Forwarded-For: 127.0.0.1\r\n"
       "X-Forwarded-Proto: http\r\n"
       "\r\n",
       "/socket.io/1/flashsocket/s?t=1|127.0.0.1:8080|http://127.0.0.1:8080|"
       "|http|127.0.0.1|"),
    /* bare LF line ends, odd case, optional protocol, two XFF headers */
    OK("GET / HTTP/1.0\n"
       "host:h\n"
       "upgrade:   websocket  \n"
       "connection: keep-alive,Upgrade\n"
       "origin: null\n"
       "sec-websocket-key1: 1 0\n"
       "SEC-WEBSOCKET-KEY2: 42949 67295\n"
       "Sec-WebSocket-Protocol: chat\n"
       "X-Forwarded-For: 10.0.0.1\n"
       "X-Forwarded-For: 10.0.0.2\n"
       "\n",
       "/|h|null|chat||10.0.0.2|"),
    BAD("POST / HTTP/1.1\r\n", -1, 0),
    BAD("<policy-file-request/>", -1, 0),
    BAD("G", -2, 0),
    BAD("GET", -2, 0),
    BAD("GET /x HTTP/1.1\r\nHost: h\r\n", -2, 0),
    BAD("GET x HTTP/1.1\r\n", -1, 0),
    BAD("GET  HTTP/1.1\r\n", -1, 0),
    BAD("GET / HTTP/2.0\r\n", -1, 0),
    BAD("GET / HTTP/1.1 \r\n", -1, 0),
    BAD("GET /\x01 HTTP/1.1\r\n", -1, 0),
    BAD("GET / HTTP/1.1\r\nHost : h\r\n", -1, 0),
    BAD("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n", -1, 0),
    BAD("GET / HTTP/1.1\r\nNoColon\r\n", -1, 0),
    BAD("GET / HTTP/1.1\r\nOrigin: a\rb\r\n", -1, 0),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n", -1, 0),
    /* complete heads missing or spoiling one requirement */
    BAD("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nOrigin: o\r\nSec-WebSocket-Key: x\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n",
        -1, 1),
    BAD("GET / HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
        "Origin: o\r\nSec-WebSocket-Key1: 1 0\r\nSec-WebSocket-Key2: 1 0\r\n"
        "\r\n",
        -1, 0),
    BAD("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key1: 1 0\r\n"
        "Sec-WebSocket-Key2: 1 0\r\n\r\n",
        -1, 0),
    BAD("GET / HTTP/1.1\r\nHost: h\r\nOrigin: o\r\nUpgrade: WebSockets\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key1: 1 0\r\n"
        "Sec-WebSocket-Key2: 1 0\r\n\r\n",
        -1, 0),
    BAD("GET / HTTP/1.1\r\nHost: h\r\nOrigin: o\r\nUpgrade: WebSocket\r\n"
        "Connection: keep-alive, upgrades\r\nSec-WebSocket-Key1: 1 0\r\n"
        "Sec-WebSocket-Key2: 1 0\r\n\r\n",
        -1, 0),
    /* hixie-75: no keys */
    BAD("GET / HTTP/1.1\r\nHost: h\r\nOrigin: o\r\nUpgrade: WebSocket\r\n"
        "Connection: Upgrade\r\n\r\n",
        -1, 0),
    BAD("GET / HTTP/1.1\r\nHost: h\r\nOrigin: o\r\nUpgrade: WebSocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key1: 1 0\r\n\r\n",
        -1, 0),
    BAD("GET / HTTP/1.1\r\nHost: h\r\nOrigin: o\r\nUpgrade: WebSocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key1: 10\r\n"
        "Sec-WebSocket-Key2: 1 0\r\n\r\n",
        -1, 0),
    BAD("GET / HTTP/1.1\r\nHost: h\r\nOrigin: o\r\nUpgrade: WebSocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key1: 1 0\r\n"
        "Sec-WebSocket-Key2: 1  1\r\n\r\n",
        -1, 0),
};

#define NREQ (sizeof(req_cases) / sizeof(req_cases[0]))

/* Compares the span p[0..len) with the next '|'-separated field of *v. */
static void
check_span(const char **v, const char *p, size_t len, const char *what)
{
	const char *bar = strchr(*v, '|');
	size_t n = (size_t)(bar - *v);

	CU_ASSERT_PTR_NOT_NULL_FATAL(bar);
	if (n == 0) {
		CU_ASSERT_PTR_NULL(p);
		CU_ASSERT_EQUAL(len, 0);
	} else {
		CU_ASSERT(p != NULL && len == n && memcmp(p, *v, n) == 0);
		if (p == NULL || len != n || memcmp(p, *v, n) != 0)
			fprintf(stderr, "\n%s: got \"%.*s\"\n", what, (int)len,
			        p ? p : "");
	}
	*v = bar + 1;
}

static void
test_request_table(void)
{
	struct wsd_hixie_req r;
	const char *v;
	size_t k;
	int rc;

	for (k = 0; k < NREQ; k++) {
		const struct req_case *c = &req_cases[k];

		memset(&r, 0x5a, sizeof(r));
		rc = wsd_hixie_parse_request(c->in, strlen(c->in), &r);
		CU_ASSERT_EQUAL(rc, c->rc);
		if (rc != c->rc)
			fprintf(stderr, "\ncase %zu: got %d (%s)\n", k, rc,
			        rc == -1 ? r.err : "");
		if (rc == -1) {
			CU_ASSERT_PTR_NOT_NULL(r.err);
			CU_ASSERT_EQUAL(r.rfc6455, c->rfc6455);
		}
		if (rc < 0 || c->rc < 0)
			continue;
		v = c->v;
		check_span(&v, r.path, r.path_len, "path");
		check_span(&v, r.host, r.host_len, "host");
		check_span(&v, r.origin, r.origin_len, "origin");
		check_span(&v, r.protocol, r.protocol_len, "protocol");
		check_span(&v, r.fwd_proto, r.fwd_proto_len, "fwd_proto");
		check_span(&v, r.fwd_for, r.fwd_for_len, "fwd_for");
		CU_ASSERT_PTR_NOT_NULL(r.key1);
		CU_ASSERT_PTR_NOT_NULL(r.key2);
	}
}

static void
test_request_example_keys(void)
{
	struct wsd_hixie_req r;
	const char *in = SWF_HEAD KEY3;

	CU_ASSERT_EQUAL_FATAL(wsd_hixie_parse_request(in, strlen(in), &r),
	                      (int)strlen(SWF_HEAD));
	CU_ASSERT_EQUAL(r.key1_len, strlen(KEY1));
	CU_ASSERT_NSTRING_EQUAL(r.key1, KEY1, r.key1_len);
	CU_ASSERT_EQUAL(r.key2_len, strlen(KEY2));
	CU_ASSERT_NSTRING_EQUAL(r.key2, KEY2, r.key2_len);
	CU_ASSERT_EQUAL(r.key1_num, 155712099u);
	CU_ASSERT_EQUAL(r.key2_num, 173347027u);
}

/* Every prefix of a valid head is incomplete; the head alone is whole. */
static void
test_request_truncated(void)
{
	struct wsd_hixie_req r;
	size_t k, n, len;
	char *copy;
	int rc;

	for (k = 0; k < NREQ; k++) {
		if (req_cases[k].rc < 0)
			continue;
		len = strlen(req_cases[k].in);
		for (n = 0; n <= len; n++) {
			copy = malloc(n ? n : 1);
			CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
			memcpy(copy, req_cases[k].in, n);
			rc = wsd_hixie_parse_request(copy, n, &r);
			CU_ASSERT_EQUAL(rc, n == len ? (int)len : -2);
			if (rc != (n == len ? (int)len : -2))
				fprintf(stderr, "\ncase %zu at %zu: %d (%s)\n",
				        k, n, rc, r.err ? r.err : "");
			free(copy);
		}
	}
}

static void
test_request_too_long(void)
{
	struct wsd_hixie_req r;
	size_t len = WSD_HIXIE_MAX_HEAD + 10, n;
	char *in = malloc(len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	memcpy(in, "GET / HTTP/1.1\r\nX-Pad: ", 23);
	memset(in + 23, 'a', len - 23);
	CU_ASSERT_EQUAL(wsd_hixie_parse_request(in, WSD_HIXIE_MAX_HEAD - 1, &r),
	                -2);
	CU_ASSERT_EQUAL(wsd_hixie_parse_request(in, WSD_HIXIE_MAX_HEAD, &r),
	                -1);
	CU_ASSERT_EQUAL(wsd_hixie_parse_request(in, len, &r), -1);
	/* Many short headers count too. */
	for (n = 16; n + 4 <= len; n += 4)
		memcpy(in + n, "a:\r\n", 4);
	CU_ASSERT_EQUAL(wsd_hixie_parse_request(in, len, &r), -1);
	free(in);
}

struct key_case {
	const char *key;
	int rc;
	unsigned long num;
};

static const struct key_case key_cases[] = {
    {KEY1, SIO_OK, 155712099ul},
    {KEY2, SIO_OK, 173347027ul},
    {"4294967295 ", SIO_OK, 4294967295ul},
    {"4 294 967 295", SIO_OK, 1431655765ul},
    {"0 ", SIO_OK, 0},
    {"x y", SIO_OK, 0},
    {"12", SIO_ERR, 0},                                 /* no spaces */
    {"", SIO_ERR, 0},                                   /* no spaces */
    {"1 0 1", SIO_ERR, 0},                              /* 101 / 2 */
    {"1_ tx7X d  <  nw  334J702) 7]o}` 8", SIO_ERR, 0}, /* 1733470278 / 10 */
    {"4294967296 ", SIO_ERR, 0},                        /* over 32 bits */
    {"99999999999999999999 ", SIO_ERR, 0},              /* over 64 bits too */
    {"0000000000004294967295 ", SIO_OK, 4294967295ul},
};

static void
test_key_numbers(void)
{
	uint32_t n;
	size_t k;

	for (k = 0; k < sizeof(key_cases) / sizeof(key_cases[0]); k++) {
		n = 7;
		CU_ASSERT_EQUAL(wsd_hixie_key_number(key_cases[k].key,
		                                     strlen(key_cases[k].key),
		                                     &n),
		                key_cases[k].rc);
		CU_ASSERT_EQUAL(n, key_cases[k].rc == SIO_OK
		                       ? (uint32_t)key_cases[k].num
		                       : 7u);
	}
}

static void
test_digest_example(void)
{
	unsigned char out[WSD_HIXIE_DIGEST_LEN];

	CU_ASSERT_EQUAL(wsd_hixie_digest(155712099u, 173347027u,
	                                 (const unsigned char *)KEY3, out),
	                SIO_OK);
	CU_ASSERT(memcmp(out, ANSWER, WSD_HIXIE_DIGEST_LEN) == 0);
}

/*
 * WebSocket.as validateHeader(): the status line starts "HTTP/1.1 101 ",
 * every header line is "Name: value" with no space in the name, Upgrade
 * and Connection lowercase to websocket and upgrade, Sec-WebSocket-Origin
 * lowercased equals the request Origin.
 */
static int
swf_accepts(const char *head, const char *origin)
{
	const char *p, *eol, *colon;
	int upgrade = 0, connection = 0, orig = 0;
	char value[512];
	size_t n;

	if (strncmp(head, "HTTP/1.1 101 ", 13) != 0)
		return 0;
	p = strstr(head, "\r\n") + 2;
	for (; (eol = strstr(p, "\r\n")) != NULL && eol != p; p = eol + 2) {
		colon = strstr(p, ": ");
		if (colon == NULL || colon > eol || colon == p)
			return 0;
		for (n = 0; p + n < colon; n++)
			if (p[n] == ' ' || p[n] == '\t')
				return 0;
		n = (size_t)(eol - colon - 2);
		if (n >= sizeof(value))
			return 0;
		memcpy(value, colon + 2, n);
		value[n] = '\0';
		for (n = 0; value[n]; n++)
			value[n] = (char)tolower((unsigned char)value[n]);
		if (strncmp(p, "Upgrade:", 8) == 0)
			upgrade = strcmp(value, "websocket") == 0;
		else if (strncmp(p, "Connection:", 11) == 0)
			connection = strcmp(value, "upgrade") == 0;
		else if (strncmp(p, "Sec-WebSocket-Origin:", 21) == 0)
			orig = strcmp(value, origin) == 0;
	}
	return eol == p && strcmp(p, "\r\n") == 0 && upgrade && connection &&
	       orig;
}

static void
test_response_head(void)
{
	static const char want[] =
	    "HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
	    "Upgrade: WebSocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Origin: http://example.com\r\n"
	    "Sec-WebSocket-Location: ws://example.com"
	    "/socket.io/1/flashsocket/abc\r\n"
	    "\r\n";
	struct wsd_hixie_req r;
	struct sio_buf b;

	CU_ASSERT_FATAL(
	    wsd_hixie_parse_request(SWF_HEAD, strlen(SWF_HEAD), &r) > 0);
	sio_buf_init(&b);
	CU_ASSERT_EQUAL(wsd_hixie_response_head(&b, &r, 0), SIO_OK);
	CU_ASSERT_EQUAL(b.len, strlen(want));
	CU_ASSERT_STRING_EQUAL(b.p, want);
	CU_ASSERT(swf_accepts(b.p, "http://example.com"));
	sio_buf_cleanup(&b);
}

static void
test_response_head_secure_protocol(void)
{
	static const char in[] = "GET /p?q HTTP/1.1\r\n"
	                         "Host: H.example:8443\r\n"
	                         "Origin: HTTPS://H.example:8443\r\n"
	                         "Upgrade: WebSocket\r\n"
	                         "Connection: Upgrade\r\n"
	                         "Sec-WebSocket-Protocol: sample\r\n"
	                         "Sec-WebSocket-Key1: 1 0\r\n"
	                         "Sec-WebSocket-Key2: 2 0\r\n"
	                         "\r\n";
	static const char want[] =
	    "HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
	    "Upgrade: WebSocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Origin: HTTPS://H.example:8443\r\n"
	    "Sec-WebSocket-Location: wss://H.example:8443/p?q\r\n"
	    "Sec-WebSocket-Protocol: sample\r\n"
	    "\r\n";
	struct wsd_hixie_req r;
	struct sio_buf b;

	CU_ASSERT_EQUAL_FATAL(wsd_hixie_parse_request(in, strlen(in), &r),
	                      (int)strlen(in));
	sio_buf_init(&b);
	sio_buf_puts(&b, "kept");
	CU_ASSERT_EQUAL(wsd_hixie_response_head(&b, &r, 1), SIO_OK);
	CU_ASSERT(memcmp(b.p, "kept", 4) == 0);
	CU_ASSERT_STRING_EQUAL(b.p + 4, want);
	/* The SWF lowercases our echo and compares with its own Origin. */
	CU_ASSERT(swf_accepts(b.p + 4, "https://h.example:8443"));
	sio_buf_cleanup(&b);
}

/* --- frames ------------------------------------------------------------ */

#define FRAME_LIMIT 8

struct frame_case {
	const char *in;
	size_t len;
	int rc;
	int close;
	const char *text; /* expected payload */
	size_t tlen;
};

#define F_OK(in, text)                                                         \
	{                                                                      \
		in, sizeof(in) - 1, (int)sizeof(in) - 1, 0, text,              \
		    sizeof(text) - 1                                           \
	}
#define F_CLOSE                                                                \
	{                                                                      \
		"\xff\x00", 2, 2, 1, NULL, 0                                   \
	}
#define F_BAD(in, rc)                                                          \
	{                                                                      \
		in, sizeof(in) - 1, rc, 0, NULL, 0                             \
	}

static const struct frame_case frame_cases[] = {
    F_OK("\x00\xff", ""),
    F_OK("\x00hello\xff", "hello"),
    F_OK("\x00"
         "12345678\xff",
         "12345678"), /* exactly the limit */
    F_OK("\x00\xc3\xa9t\xc3\xa9\xff", "\xc3\xa9t\xc3\xa9"),
    F_OK("\x00\xf0\x9f\x98\x80\xff", "\xf0\x9f\x98\x80"),
    F_OK("\x00\xef\xbf\xbd\xff", "\xef\xbf\xbd"), /* U+FFFD is text */
    F_OK("\x00\x00\xff", "\x00"),
    F_CLOSE,
    F_BAD("", -2),
    F_BAD("\x00", -2),
    F_BAD("\x00"
          "abc",
          -2),
    F_BAD("\x00\xc3", -2),
    F_BAD("\xff", -2),
    F_BAD("\xff\x01", -1),
    F_BAD("\x80\x00", -1), /* length-prefixed binary frame */
    F_BAD("\x01"
          "a\xff",
          -1), /* other sentinel frame types */
    F_BAD("a", -1),
    F_BAD("\x00\xc0\x80\xff", -1),         /* overlong NUL */
    F_BAD("\x00\xed\xa0\x80\xff", -1),     /* surrogate */
    F_BAD("\x00\xf4\x90\x80\x80\xff", -1), /* over U+10FFFF */
    F_BAD("\x00\x80\xff", -1),             /* lone continuation */
    F_BAD("\x00\xc3\xff", -1),             /* cut by the terminator */
    F_BAD("\x00\xfe", -1),                 /* invalid before the end */
    F_BAD("\x00"
          "123456789\xff",
          -1), /* over the limit */
    F_BAD("\x00"
          "123456789",
          -1), /* over it, unterminated */
};

#define NFRAME (sizeof(frame_cases) / sizeof(frame_cases[0]))

static void
test_frame_table(void)
{
	const char *payload;
	size_t plen, k, sc;
	int rc;

	for (k = 0; k < NFRAME; k++) {
		const struct frame_case *c = &frame_cases[k];

		payload = "sentinel";
		plen = 99;
		sc = 0;
		rc = wsd_hixie_frame_parse(c->in, c->len, FRAME_LIMIT, &sc,
		                           &payload, &plen);
		CU_ASSERT_EQUAL(rc, c->rc);
		if (rc != c->rc)
			fprintf(stderr, "\nframe case %zu: got %d\n", k, rc);
		if (rc < 0) {
			CU_ASSERT_STRING_EQUAL(payload, "sentinel");
			CU_ASSERT_EQUAL(plen, 99);
		} else if (c->close) {
			CU_ASSERT_PTR_NULL(payload);
			CU_ASSERT_EQUAL(plen, 0);
		} else {
			CU_ASSERT_PTR_EQUAL(payload, c->in + 1);
			CU_ASSERT_EQUAL(plen, c->tlen);
			CU_ASSERT(memcmp(payload, c->text, plen) == 0);
		}
	}
}

static void
test_frame_truncated(void)
{
	const char *payload;
	size_t k, n, plen, sc;
	char *copy;
	int rc;

	for (k = 0; k < NFRAME; k++) {
		if (frame_cases[k].rc < 0)
			continue;
		for (n = 0; n <= frame_cases[k].len; n++) {
			copy = malloc(n ? n : 1);
			CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
			memcpy(copy, frame_cases[k].in, n);
			sc = 0;
			rc = wsd_hixie_frame_parse(copy, n, FRAME_LIMIT, &sc,
			                           &payload, &plen);
			CU_ASSERT_EQUAL(rc,
			                n == frame_cases[k].len ? (int)n : -2);
			free(copy);
		}
	}
}

/* Reads arriving in pieces: the caller appends and parses until done. */
static void
test_frame_split_across_reads(void)
{
	static const char wire[] = "\x00one\xff\x00\xc3\xa9\xff\x00\xff"
	                           "\x00two\xff\xff\x00";
	static const char *const want[] = {"one", "\xc3\xa9", "", "two", NULL};
	const char *payload;
	size_t step, have, off, plen, got, sc;
	int rc;

	for (step = 1; step <= sizeof(wire) - 1; step++) {
		off = 0;
		sc = 0; /* resumed across reads, as flash.c keeps it */
		got = 0;
		for (have = 0; have < sizeof(wire) - 1;) {
			have += step;
			if (have > sizeof(wire) - 1)
				have = sizeof(wire) - 1;
			while ((rc = wsd_hixie_frame_parse(
			            wire + off, have - off, 1024, &sc, &payload,
			            &plen)) > 0) {
				CU_ASSERT_FATAL(got < 5);
				if (want[got] == NULL) {
					CU_ASSERT_PTR_NULL(payload);
				} else {
					CU_ASSERT_EQUAL(plen,
					                strlen(want[got]));
					CU_ASSERT(memcmp(payload, want[got],
					                 plen) == 0);
				}
				got++;
				off += (size_t)rc;
			}
			CU_ASSERT_EQUAL(rc, -2);
		}
		CU_ASSERT_EQUAL(got, 5);
		CU_ASSERT_EQUAL(off, sizeof(wire) - 1);
	}
}

/* A frame fed one byte more each call, the resume point kept between
 * calls, ends as one call on the whole frame ends; the resume point stays
 * at a character boundary inside the text seen so far. */
static void
test_frame_resumed(void)
{
	const char *payload;
	size_t k, n, plen, sc;
	int rc, whole;

	for (k = 0; k < NFRAME; k++) {
		const struct frame_case *c = &frame_cases[k];

		sc = 0;
		rc = -2;
		for (n = 0; n <= c->len && rc == -2; n++) {
			rc = wsd_hixie_frame_parse(c->in, n, FRAME_LIMIT, &sc,
			                           &payload, &plen);
			if (rc != -2)
				break;
			CU_ASSERT(sc <= (n > 0 ? n - 1 : 0));
			CU_ASSERT(
			    sc == 0 ||
			    ((unsigned char)c->in[1 + sc - 1] < 0x80 ||
			     n - 1 == sc ||
			     ((unsigned char)c->in[1 + sc] & 0xc0) != 0x80));
		}
		whole = wsd_hixie_frame_parse(c->in, c->len, FRAME_LIMIT,
		                              &(size_t){0}, &payload, &plen);
		CU_ASSERT_EQUAL(rc, whole);
		if (rc != whole)
			fprintf(stderr, "\nframe case %zu resumed: got %d\n", k,
			        rc);
		if (rc >= 0)
			CU_ASSERT_EQUAL(sc, 0);
	}
}

/* CPU seconds of this process. */
static double
cpu_seconds(void)
{
	return (double)clock() / CLOCKS_PER_SEC;
}

/*
 * A 1 MB frame arriving in 256-byte pieces, parsed after each piece as
 * flash.c does, costs about what it costs whole: each byte is scanned
 * once. Rescanning from the start each time is 4,096 passes over up to
 * 1 MB (seconds); the bound is generous for a loaded machine.
 */
static void
test_frame_pieces_linear(void)
{
	size_t n = 999999, have, sc = 0, plen; /* whole characters */
	const char *payload;
	double t0, pieces, whole;
	char *f = malloc(n + 2);
	int rc = -2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	f[0] = '\x00';
	for (size_t i = 1; i <= n; i++)
		f[i] = i % 3 == 0 ? 'a' : i % 3 == 1 ? '\xc3' : '\xa9';
	f[n + 1] = '\xff';
	t0 = cpu_seconds();
	for (have = 256; rc == -2; have += 256)
		rc =
		    wsd_hixie_frame_parse(f, have < n + 2 ? have : n + 2,
		                          SIO_MAX_PACKET, &sc, &payload, &plen);
	pieces = cpu_seconds() - t0;
	CU_ASSERT_EQUAL(rc, (int)n + 2);
	t0 = cpu_seconds();
	sc = 0;
	CU_ASSERT_EQUAL(wsd_hixie_frame_parse(f, n + 2, SIO_MAX_PACKET, &sc,
	                                      &payload, &plen),
	                (int)n + 2);
	whole = cpu_seconds() - t0;
	fprintf(stderr,
	        "\n  1 MB frame: %.4f s CPU in 256-byte pieces, "
	        "%.4f s whole\n",
	        pieces, whole);
	CU_ASSERT(pieces < 0.25);
	free(f);
}

static void
test_frame_big_messages(void)
{
	size_t n = 65536, limit = 65536;
	const char *payload;
	size_t plen, sc = 0;
	char *f = malloc(n + 3);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	f[0] = '\x00';
	memset(f + 1, 'x', n + 1);
	f[n + 1] = '\xff';
	CU_ASSERT_EQUAL(
	    wsd_hixie_frame_parse(f, n + 2, limit, &sc, &payload, &plen),
	    (int)n + 2);
	CU_ASSERT_EQUAL(plen, n);
	/* One byte more is refused as soon as it is buffered, end or not. */
	f[n + 1] = 'x';
	f[n + 2] = '\xff';
	CU_ASSERT_EQUAL(
	    wsd_hixie_frame_parse(f, n + 3, limit, &sc, &payload, &plen), -1);
	CU_ASSERT_EQUAL(
	    wsd_hixie_frame_parse(f, n + 2, limit, &sc, &payload, &plen), -1);
	CU_ASSERT_EQUAL(
	    wsd_hixie_frame_parse(f, n + 1, limit, &sc, &payload, &plen), -2);
	free(f);
}

static void
test_frame_encode(void)
{
	const char *payload;
	struct sio_buf b;
	size_t plen, sc = 0;

	sio_buf_init(&b);
	CU_ASSERT_EQUAL(wsd_hixie_frame_encode(&b, "", 0), SIO_OK);
	CU_ASSERT_EQUAL(wsd_hixie_frame_encode(&b, "3:::\xc3\xa9", 6), SIO_OK);
	CU_ASSERT_EQUAL(wsd_hixie_close_encode(&b), SIO_OK);
	CU_ASSERT_EQUAL(b.len, 2 + 8 + 2);
	CU_ASSERT(memcmp(b.p,
	                 "\x00\xff\x00"
	                 "3:::\xc3\xa9\xff\xff\x00",
	                 12) == 0);
	/* What encode writes, parse reads back. */
	CU_ASSERT_EQUAL(wsd_hixie_frame_parse(b.p + 2, b.len - 2, 100, &sc,
	                                      &payload, &plen),
	                8);
	CU_ASSERT_EQUAL(plen, 6);
	CU_ASSERT(memcmp(payload, "3:::\xc3\xa9", 6) == 0);
	/* Bytes that could end the frame early are refused. */
	CU_ASSERT_EQUAL(wsd_hixie_frame_encode(&b,
	                                       "a\xff"
	                                       "b",
	                                       3),
	                SIO_ERR);
	CU_ASSERT_EQUAL(wsd_hixie_frame_encode(&b, "\xc3", 1), SIO_ERR);
	CU_ASSERT_EQUAL(b.len, 12);
	sio_buf_cleanup(&b);
}

static const struct cu_test tests[] = {
    {"hixie request parse matches the table of valid and malformed heads",
     test_request_table},
    {"hixie request parse finds the draft's example key numbers before key3",
     test_request_example_keys},
    {"hixie request parse of every prefix of a valid head is incomplete",
     test_request_truncated},
    {"hixie request parse refuses a head longer than the limit",
     test_request_too_long},
    {"hixie key numbers divide the digits by the spaces and refuse the rest",
     test_key_numbers},
    {"hixie digest answers the draft's example challenge", test_digest_example},
    {"hixie response head is the exact 101 block the SWF accepts",
     test_response_head},
    {"hixie response head says wss when secure and echoes the protocol",
     test_response_head_secure_protocol},
    {"hixie frame parse matches the table of text, close and bad frames",
     test_frame_table},
    {"hixie frame parse of every prefix of a valid frame is incomplete",
     test_frame_truncated},
    {"hixie frame parse reads frames split across reads at any size",
     test_frame_split_across_reads},
    {"hixie frame parse resumed byte by byte ends as one call on the whole "
     "frame",
     test_frame_resumed},
    {"hixie frame parse of a 1 MB frame in 256-byte pieces scans it once",
     test_frame_pieces_linear},
    {"hixie frame parse takes 65536 bytes and refuses one more at once",
     test_frame_big_messages},
    {"hixie frame encode writes text and close frames and refuses non-UTF-8",
     test_frame_encode},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("hixie", tests, NULL, NULL);
}
