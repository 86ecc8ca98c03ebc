/*
 * fuzz_hixie.h: the fuzz target over sio-wsd's hixie-76 parsers: the
 * upgrade head (with the 101 head built from it and the challenge), the
 * Sec-WebSocket-Key numbers, and the frames. The whole input is a head;
 * from its second byte on it is also a stream of frames, with the frame
 * limit chosen by its first byte. Included by fuzz_body.h only.
 */
#ifndef SIO_FUZZ_HIXIE_H
#define SIO_FUZZ_HIXIE_H

/* How many prefixes of an input the prefix checks try. */
#define FUZZ_HIXIE_PREFIXES 12

/* The k-th of the prefix lengths tried for an input of size bytes: all of
 * them for a short input, else spread out, ending with size - 1. */
static size_t
fuzz_hixie_prefix(size_t size, size_t k)
{
	if (size <= FUZZ_HIXIE_PREFIXES)
		return k;
	return k + 1 == FUZZ_HIXIE_PREFIXES ? size - 1
	                                    : size * k / FUZZ_HIXIE_PREFIXES;
}

/* The key number against its definition: digits over spaces. */
static void
fuzz_hixie_key(const char *s, size_t len)
{
	uint64_t num = 0;
	uint32_t spaces = 0, out = 7;
	int big = 0, rc;
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9' && !big) {
			num = num * 10 + (uint64_t)(s[i] - '0');
			big = num > UINT32_MAX;
		}
		spaces += s[i] == ' ';
	}
	rc = wsd_hixie_key_number(s, len, &out);
	if (big || spaces == 0 || num % spaces != 0) {
		FUZZ_CHECK(rc == SIO_ERR && out == 7);
		return;
	}
	FUZZ_CHECK(rc == SIO_OK && (uint64_t)out * spaces == num);
}

/* The 101 head built from a parsed request: the expected lines, each
 * ending in CRLF, and no other CR or LF (a value cannot add a line). */
static void
fuzz_hixie_response(const struct wsd_hixie_req *req, int secure)
{
	static const char first[] =
	    "HTTP/1.1 101 WebSocket Protocol Handshake\r\n";
	struct sio_buf b;
	size_t i, crlf = 0;

	sio_buf_init(&b);
	FUZZ_CHECK(wsd_hixie_response_head(&b, req, secure) == SIO_OK);
	FUZZ_CHECK(b.len > sizeof(first) &&
	           memcmp(b.p, first, sizeof(first) - 1) == 0);
	FUZZ_CHECK(memcmp(b.p + b.len - 4, "\r\n\r\n", 4) == 0);
	for (i = 0; i < b.len; i++) {
		if (b.p[i] == '\r') {
			FUZZ_CHECK(i + 1 < b.len && b.p[i + 1] == '\n');
			crlf++;
		} else {
			FUZZ_CHECK(b.p[i] != '\n' ||
			           (i > 0 && b.p[i - 1] == '\r'));
			FUZZ_CHECK(b.p[i] != '\0');
		}
	}
	FUZZ_CHECK(crlf == 6 + (req->protocol != NULL));
	sio_buf_cleanup(&b);
}

/* A parsed head: every span inside the input, the keys' numbers right. */
static void
fuzz_hixie_req_ok(const char *s, size_t size, int rc,
                  const struct wsd_hixie_req *req)
{
	unsigned char digest[WSD_HIXIE_DIGEST_LEN];
	uint32_t n;

	FUZZ_CHECK(req->path != NULL && req->path_len > 0 &&
	           fuzz_inside(s, (size_t)rc, req->path, req->path_len));
	FUZZ_CHECK(req->path[0] == '/' &&
	           memchr(req->path, ' ', req->path_len) == NULL);
	FUZZ_CHECK(req->host_len > 0 &&
	           fuzz_inside(s, (size_t)rc, req->host, req->host_len));
	FUZZ_CHECK(req->origin_len > 0 &&
	           fuzz_inside(s, (size_t)rc, req->origin, req->origin_len));
	FUZZ_CHECK(fuzz_inside(s, (size_t)rc, req->key1, req->key1_len) &&
	           fuzz_inside(s, (size_t)rc, req->key2, req->key2_len));
	FUZZ_CHECK(
	    req->protocol == NULL ||
	    fuzz_inside(s, (size_t)rc, req->protocol, req->protocol_len));
	FUZZ_CHECK(
	    req->fwd_proto == NULL ||
	    fuzz_inside(s, (size_t)rc, req->fwd_proto, req->fwd_proto_len));
	FUZZ_CHECK(req->fwd_for == NULL ||
	           fuzz_inside(s, (size_t)rc, req->fwd_for, req->fwd_for_len));
	FUZZ_CHECK(wsd_hixie_key_number(req->key1, req->key1_len, &n) ==
	               SIO_OK &&
	           n == req->key1_num);
	FUZZ_CHECK(wsd_hixie_key_number(req->key2, req->key2_len, &n) ==
	               SIO_OK &&
	           n == req->key2_num);
	fuzz_hixie_response(req, 0);
	fuzz_hixie_response(req, 1);
	if (size - (size_t)rc >= WSD_HIXIE_KEY3_LEN)
		FUZZ_CHECK(wsd_hixie_digest(req->key1_num, req->key2_num,
		                            (const unsigned char *)s + rc,
		                            digest) == SIO_OK);
}

/* The head parser: its result, and its prefixes' results agree with it
 * (a good head cut anywhere is only incomplete; a verdict never changes
 * with more bytes). */
static void
fuzz_hixie_head(const char *s, size_t size)
{
	struct wsd_hixie_req req, part;
	size_t k, cut;
	int rc, prc;

	memset(&req, 0, sizeof(req));
	rc = wsd_hixie_parse_request(s, size, &req);
	FUZZ_CHECK(rc == SIO_ERR || rc == SIO_AGAIN ||
	           (rc > 0 && (size_t)rc <= size && rc <= WSD_HIXIE_MAX_HEAD));
	if (rc == SIO_ERR)
		FUZZ_CHECK(req.err != NULL);
	if (rc == SIO_ERR && req.rfc6455)
		FUZZ_CHECK(fuzz_find_ci(s, size, "\nSec-WebSocket-Version:"));
	if (rc > 0)
		fuzz_hixie_req_ok(s, size, rc, &req);
	if (size >= WSD_HIXIE_MAX_HEAD)
		return; /* "too long" depends on the length, not the bytes */
	for (k = 0; k < FUZZ_HIXIE_PREFIXES && k < size; k++) {
		cut = fuzz_hixie_prefix(size, k);
		prc = wsd_hixie_parse_request(s, cut, &part);
		if (rc > 0)
			FUZZ_CHECK(cut < (size_t)rc ? prc == SIO_AGAIN
			                            : prc == rc);
		else if (rc == SIO_AGAIN)
			FUZZ_CHECK(prc == SIO_AGAIN);
		else
			FUZZ_CHECK(prc == SIO_AGAIN || prc == SIO_ERR);
	}
}

/*
 * The frame at s[0..size) parsed whole and, from a fresh resume point,
 * grown a piece at a time as reads bring it (the pieces cut where the
 * input's first byte says): both give the same verdict, consumed length
 * and payload. Returns the whole parse's result.
 */
static int
fuzz_hixie_frame_resumed(const char *s, size_t size, size_t limit,
                         const char **payload, size_t *plen)
{
	size_t scanned = 0, whole_scanned = 0, len, step;
	const char *p2 = NULL;
	size_t l2 = 0;
	int rc, rc2 = SIO_AGAIN;

	rc = wsd_hixie_frame_parse(s, size, limit, &whole_scanned, payload,
	                           plen);
	step = size > 0 ? 1 + (unsigned char)s[size - 1] % 7 : 1;
	for (len = step < size ? step : size;; len += step) {
		if (len > size)
			len = size;
		rc2 = wsd_hixie_frame_parse(s, len, limit, &scanned, &p2, &l2);
		if (rc2 != SIO_AGAIN || len == size)
			break;
	}
	FUZZ_CHECK(rc2 == rc);
	if (rc >= 0)
		FUZZ_CHECK(p2 == *payload && l2 == *plen && scanned == 0);
	return rc;
}

/* One frame parsed at s[0..size): its prefixes are all incomplete. */
static void
fuzz_hixie_frame_prefixes(const char *s, int rc, size_t limit)
{
	const char *payload = NULL;
	size_t k, cut, plen = 0;

	for (k = 0; k < FUZZ_HIXIE_PREFIXES && k < (size_t)rc; k++) {
		size_t scanned = 0;

		cut = fuzz_hixie_prefix((size_t)rc, k);
		FUZZ_CHECK(wsd_hixie_frame_parse(s, cut, limit, &scanned,
		                                 &payload, &plen) == SIO_AGAIN);
		FUZZ_CHECK(payload == NULL && plen == 0);
		FUZZ_CHECK(scanned <= cut);
	}
}

/* Frames one after another: each re-encodes to its own bytes. */
static void
fuzz_hixie_frames(const char *s, size_t size, size_t limit)
{
	const char *payload;
	struct sio_buf b;
	size_t plen;
	int rc;

	sio_buf_init(&b);
	while (size > 0) {
		payload = NULL;
		plen = 0;
		rc = fuzz_hixie_frame_resumed(s, size, limit, &payload, &plen);
		FUZZ_CHECK(rc == SIO_ERR || rc == SIO_AGAIN ||
		           (rc >= 2 && (size_t)rc <= size));
		if (rc < 0) {
			FUZZ_CHECK(payload == NULL && plen == 0);
			/* Text over the limit is refused once it is buffered,
			 * not waited on. */
			FUZZ_CHECK(rc == SIO_ERR || s[0] != 0x00 ||
			           size - 1 <= limit);
			break;
		}
		sio_buf_reset(&b);
		if (payload == NULL) {
			FUZZ_CHECK(rc == 2 && plen == 0);
			FUZZ_CHECK(wsd_hixie_close_encode(&b) == SIO_OK);
		} else {
			FUZZ_CHECK(payload == s + 1 && plen == (size_t)rc - 2 &&
			           plen <= limit);
			FUZZ_CHECK(wsd_hixie_frame_encode(&b, payload, plen) ==
			           SIO_OK);
		}
		FUZZ_CHECK(b.len == (size_t)rc && memcmp(b.p, s, b.len) == 0);
		fuzz_hixie_frame_prefixes(s, rc, limit);
		s += rc;
		size -= (size_t)rc;
	}
	sio_buf_cleanup(&b);
}

static void
fuzz_hixie(const uint8_t *data, size_t size)
{
	static const size_t limits[8] = {0, 1, 2, 3, 4, 16, 100, SIZE_MAX};
	const char *s = (const char *)data;

	fuzz_hixie_head(s, size);
	fuzz_hixie_key(s, size < 64 ? size : 64);
	if (size > 0)
		fuzz_hixie_frames(s + 1, size - 1, limits[data[0] & 7]);
}

#endif
