/*
 * hixie.c: the hixie-76 handshake and framing for the flashsocket SWF (see
 * hixie.h). The request parser works line by line so that a bad line fails
 * at once, while a good head cut anywhere is only incomplete. MD5 comes
 * from OpenSSL's libcrypto, included here and nowhere else in wsd.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "hixie.h"
#include "siogate.h"

/* --- request head ------------------------------------------------------ */

/* A header we look at: where its value goes and how often it may appear. */
enum hixie_hdr {
	HDR_HOST,
	HDR_ORIGIN,
	HDR_UPGRADE,
	HDR_CONNECTION,
	HDR_KEY1,
	HDR_KEY2,
	HDR_PROTOCOL,
	HDR_VERSION,
	HDR_FWD_PROTO,
	HDR_FWD_FOR,
	HDR_COUNT
};

static const char *const hixie_hdr_names[HDR_COUNT] = {
    "Host",
    "Origin",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key1",
    "Sec-WebSocket-Key2",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Version",
    "X-Forwarded-Proto",
    "X-Forwarded-For",
};

/* What the parser gathers before it fills struct wsd_hixie_req. */
struct hixie_head {
	const char *val[HDR_COUNT];
	size_t len[HDR_COUNT];
	int seen[HDR_COUNT];
	int conn_upgrade; /* some Connection header lists "upgrade" */
};

static int
hixie_fail(struct wsd_hixie_req *req, const char *err)
{
	req->err = err;
	return SIO_ERR;
}

/* Control characters other than tab could split our 101 response lines. */
static int
hixie_has_ctl(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 1;
	}
	return 0;
}

/* RFC 7230 tchar. */
static int
hixie_is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* 1 when the comma-separated list v[0..len) holds token (any case). */
static int
hixie_list_has(const char *v, size_t len, const char *token)
{
	size_t i = 0, start, end, tlen = strlen(token);

	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end - start == tlen &&
		    strncasecmp(v + start, token, tlen) == 0)
			return 1;
	}
	return 0;
}

/* "GET <target> HTTP/1.x", target in origin-form. */
static int
hixie_request_line(const char *s, size_t len, struct wsd_hixie_req *req)
{
	const char *sp;

	if (len < 4 || memcmp(s, "GET ", 4) != 0)
		return hixie_fail(req, "not a GET request");
	s += 4;
	len -= 4;
	sp = memchr(s, ' ', len);
	if (sp == NULL || sp == s || *s != '/')
		return hixie_fail(req, "bad request target");
	req->path = s;
	req->path_len = (size_t)(sp - s);
	len -= req->path_len + 1;
	sp++;
	if (len != 8 || memcmp(sp, "HTTP/1.", 7) != 0 ||
	    (sp[7] != '0' && sp[7] != '1'))
		return hixie_fail(req, "bad HTTP version");
	return SIO_OK;
}

/* One "Name: value" line; values of the headers we know go to h. */
static int
hixie_header_line(const char *s, size_t len, struct hixie_head *h,
                  struct wsd_hixie_req *req)
{
	size_t n = 0, vs, ve;
	int k;

	while (n < len && hixie_is_tchar((unsigned char)s[n]))
		n++;
	if (n == 0 || n == len || s[n] != ':')
		return hixie_fail(req, s[0] == ' ' || s[0] == '\t'
		                           ? "header continuation line"
		                           : "bad header line");
	vs = n + 1;
	ve = len;
	while (vs < ve && (s[vs] == ' ' || s[vs] == '\t'))
		vs++;
	while (ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '\t'))
		ve--;
	for (k = 0; k < HDR_COUNT; k++)
		if (strlen(hixie_hdr_names[k]) == n &&
		    strncasecmp(s, hixie_hdr_names[k], n) == 0)
			break;
	if (k == HDR_COUNT)
		return SIO_OK;
	if (k == HDR_CONNECTION) {
		h->conn_upgrade |= hixie_list_has(s + vs, ve - vs, "upgrade");
		return SIO_OK;
	}
	/* Proxies may each add one: the last is the nearest proxy's. */
	if (h->seen[k] && k != HDR_FWD_PROTO && k != HDR_FWD_FOR)
		return hixie_fail(req, "duplicate header");
	h->seen[k] = 1;
	h->val[k] = s + vs;
	h->len[k] = ve - vs;
	return SIO_OK;
}

/* The checks that need the whole head; fills req from h. */
static int
hixie_head_done(const struct hixie_head *h, struct wsd_hixie_req *req)
{
	if (h->seen[HDR_VERSION]) {
		req->rfc6455 = 1;
		return hixie_fail(req, "Sec-WebSocket-Version: not hixie-76");
	}
	if (!h->seen[HDR_HOST] || h->len[HDR_HOST] == 0)
		return hixie_fail(req, "no Host");
	if (!h->seen[HDR_ORIGIN] || h->len[HDR_ORIGIN] == 0)
		return hixie_fail(req, "no Origin");
	if (!h->seen[HDR_UPGRADE] || h->len[HDR_UPGRADE] != 9 ||
	    strncasecmp(h->val[HDR_UPGRADE], "websocket", 9) != 0)
		return hixie_fail(req, "no Upgrade: WebSocket");
	if (!h->conn_upgrade)
		return hixie_fail(req, "no Connection: Upgrade");
	if (!h->seen[HDR_KEY1])
		return hixie_fail(req, "no Sec-WebSocket-Key1");
	if (!h->seen[HDR_KEY2])
		return hixie_fail(req, "no Sec-WebSocket-Key2");
	if (wsd_hixie_key_number(h->val[HDR_KEY1], h->len[HDR_KEY1],
	                         &req->key1_num) != SIO_OK)
		return hixie_fail(req, "bad Sec-WebSocket-Key1");
	if (wsd_hixie_key_number(h->val[HDR_KEY2], h->len[HDR_KEY2],
	                         &req->key2_num) != SIO_OK)
		return hixie_fail(req, "bad Sec-WebSocket-Key2");
#define HIXIE_SPAN(field, k)                                                   \
	do {                                                                   \
		req->field = h->seen[k] ? h->val[k] : NULL;                    \
		req->field##_len = h->seen[k] ? h->len[k] : 0;                 \
	} while (0)
	HIXIE_SPAN(host, HDR_HOST);
	HIXIE_SPAN(origin, HDR_ORIGIN);
	HIXIE_SPAN(key1, HDR_KEY1);
	HIXIE_SPAN(key2, HDR_KEY2);
	HIXIE_SPAN(protocol, HDR_PROTOCOL);
	HIXIE_SPAN(fwd_proto, HDR_FWD_PROTO);
	HIXIE_SPAN(fwd_for, HDR_FWD_FOR);
#undef HIXIE_SPAN
	return SIO_OK;
}

int
wsd_hixie_parse_request(const char *buf, size_t len, struct wsd_hixie_req *req)
{
	struct hixie_head h;
	size_t off = 0, end, avail;
	const char *lf;
	int first = 1;

	memset(&h, 0, sizeof(h));
	req->rfc6455 = 0;
	req->err = NULL;
	/* Fail a policy request or a POST at once, not after 8 KB. */
	if (len > 0 && memcmp(buf, "GET ", len < 4 ? len : 4) != 0)
		return hixie_fail(req, "not a GET request");
	avail = len < WSD_HIXIE_MAX_HEAD ? len : WSD_HIXIE_MAX_HEAD;
	for (;;) {
		lf = memchr(buf + off, '\n', avail - off);
		if (lf == NULL) {
			if (len >= WSD_HIXIE_MAX_HEAD)
				return hixie_fail(req, "request head too long");
			return SIO_AGAIN;
		}
		end = (size_t)(lf - buf);
		if (end > off && buf[end - 1] == '\r')
			end--;
		if (hixie_has_ctl(buf + off, end - off))
			return hixie_fail(req, "control character in head");
		if (first) {
			if (hixie_request_line(buf + off, end - off, req) < 0)
				return SIO_ERR;
			first = 0;
		} else if (end == off) {
			off = (size_t)(lf - buf) + 1;
			break;
		} else if (hixie_header_line(buf + off, end - off, &h, req) <
		           0) {
			return SIO_ERR;
		}
		off = (size_t)(lf - buf) + 1;
	}
	if (hixie_head_done(&h, req) < 0)
		return SIO_ERR;
	return (int)off;
}

/* --- challenge --------------------------------------------------------- */

int
wsd_hixie_key_number(const char *s, size_t len, uint32_t *out)
{
	uint64_t num = 0;
	uint32_t spaces = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			num = num * 10 + (uint64_t)(s[i] - '0');
			if (num > UINT32_MAX)
				return SIO_ERR;
		} else if (s[i] == ' ') {
			spaces++;
		}
	}
	if (spaces == 0 || num % spaces != 0)
		return SIO_ERR;
	*out = (uint32_t)(num / spaces);
	return SIO_OK;
}

static void
hixie_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

int
wsd_hixie_digest(uint32_t key1, uint32_t key2,
                 const unsigned char key3[WSD_HIXIE_KEY3_LEN],
                 unsigned char out[WSD_HIXIE_DIGEST_LEN])
{
	unsigned char in[8 + WSD_HIXIE_KEY3_LEN];
	unsigned int n = 0;

	hixie_be32(in, key1);
	hixie_be32(in + 4, key2);
	memcpy(in + 8, key3, WSD_HIXIE_KEY3_LEN);
	if (EVP_Digest(in, sizeof(in), out, &n, EVP_md5(), NULL) != 1 ||
	    n != WSD_HIXIE_DIGEST_LEN)
		return SIO_ERR;
	return SIO_OK;
}

/* --- response head ----------------------------------------------------- */

int
wsd_hixie_response_head(struct sio_buf *b, const struct wsd_hixie_req *req,
                        int secure)
{
	size_t old = b->len;
	int rc;

	/* The SWF wants "HTTP/1.1 101 " and "Name: value" lines; it lowercases
	 * Upgrade, Connection and our Origin echo before comparing. */
	rc = sio_buf_printf(b,
	                    "HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
	                    "Upgrade: WebSocket\r\n"
	                    "Connection: Upgrade\r\n"
	                    "Sec-WebSocket-Origin: %.*s\r\n"
	                    "Sec-WebSocket-Location: %s://%.*s%.*s\r\n",
	                    (int)req->origin_len, req->origin,
	                    secure ? "wss" : "ws", (int)req->host_len,
	                    req->host, (int)req->path_len, req->path);
	if (rc == SIO_OK && req->protocol != NULL)
		rc = sio_buf_printf(b, "Sec-WebSocket-Protocol: %.*s\r\n",
		                    (int)req->protocol_len, req->protocol);
	if (rc == SIO_OK)
		rc = sio_buf_append(b, "\r\n", 2);
	if (rc != SIO_OK)
		sio_buf_truncate(b, old);
	return rc;
}

/* --- frames ------------------------------------------------------------ */

/*
 * Checks the UTF-8 in s[0..len): returns len when valid, -1 at an invalid
 * sequence, -2 when the text ends inside a character valid so far. 0xFF is
 * never valid, so text that passes cannot hold the frame terminator. When
 * whole is not NULL, *whole is where the checked whole characters end: len
 * when valid, the start of the unfinished character on -2.
 */
static long
hixie_utf8(const unsigned char *s, size_t len, size_t *whole)
{
	size_t i = 0, k, n;
	unsigned char lo, hi;

	while (i < len) {
		if (whole != NULL)
			*whole = i;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (s[i] >= 0xc2 && s[i] <= 0xdf)
			n = 2;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			n = 3;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			n = 4;
		else
			return -1;
		/* The second byte's range rules out overlongs, surrogates
		 * and code points over U+10FFFF. */
		if (s[i] == 0xe0)
			lo = 0xa0;
		else if (s[i] == 0xed)
			hi = 0x9f;
		else if (s[i] == 0xf0)
			lo = 0x90;
		else if (s[i] == 0xf4)
			hi = 0x8f;
		for (k = 1; k < n; k++) {
			if (i + k == len)
				return -2;
			if (s[i + k] < lo || s[i + k] > hi)
				return -1;
			lo = 0x80;
			hi = 0xbf;
		}
		i += n;
	}
	if (whole != NULL)
		*whole = len;
	return (long)len;
}

int
wsd_hixie_frame_parse(const char *buf, size_t len, size_t limit,
                      size_t *scanned, const char **payload, size_t *plen)
{
	const unsigned char *u = (const unsigned char *)buf;
	const unsigned char *ff;
	size_t scan, text, from, whole;
	long valid;

	if (len == 0)
		return SIO_AGAIN;
	if (u[0] == 0xff) {
		/* hixie-76's only length-prefixed frame we accept: close. */
		if (len < 2)
			return SIO_AGAIN;
		if (u[1] != 0x00)
			return SIO_ERR;
		*payload = NULL;
		*plen = 0;
		*scanned = 0;
		return 2;
	}
	if (u[0] != 0x00)
		return SIO_ERR;
	/* Look no further than limit + 1 bytes of text plus the 0xFF. */
	scan = len - 1;
	if (limit < SIZE_MAX - 1 && scan > limit + 1)
		scan = limit + 1;
	/* The text before *scanned was checked by an earlier call: whole
	 * characters, no 0xFF. A frame sent in pieces costs its length once,
	 * not once per piece. */
	from = *scanned <= scan ? *scanned : 0;
	ff = memchr(u + 1 + from, 0xff, scan - from);
	text = ff != NULL ? (size_t)(ff - (u + 1)) : scan;
	if (text > limit || text + 2 > (size_t)INT_MAX)
		return SIO_ERR;
	whole = 0;
	valid = hixie_utf8(u + 1 + from, text - from, &whole);
	if (valid == -1)
		return SIO_ERR;
	if (ff == NULL) {
		*scanned = from + whole;
		return SIO_AGAIN;
	}
	/* A complete frame whose text ends mid-character is invalid. */
	if (valid != (long)(text - from))
		return SIO_ERR;
	*payload = buf + 1;
	*plen = text;
	*scanned = 0;
	return (int)(text + 2);
}

int
wsd_hixie_frame_encode(struct sio_buf *b, const char *payload, size_t len)
{
	size_t old = b->len;

	if (hixie_utf8((const unsigned char *)payload, len, NULL) != (long)len)
		return SIO_ERR;
	if (sio_buf_putc(b, '\x00') != SIO_OK ||
	    sio_buf_append(b, payload, len) != SIO_OK ||
	    sio_buf_putc(b, '\xff') != SIO_OK) {
		sio_buf_truncate(b, old);
		return SIO_ERR;
	}
	return SIO_OK;
}

int
wsd_hixie_close_encode(struct sio_buf *b)
{
	return sio_buf_append(b, "\xff\x00", 2);
}
