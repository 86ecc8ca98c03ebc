/*
 * payload.c: the framing that lets the polling transports carry several
 * packets in one HTTP body (payload.h). socket.io 0.9 counts the framed
 * lengths in UTF-16 code units, as JavaScript's String.length does, so
 * every length is computed by walking the UTF-8 text code point by code
 * point; the walk doubles as the UTF-8 validation of the body.
 */
#include <limits.h>
#include <string.h>

#include "payload.h"
#include "siogate.h"

#define SIO_PAYLOAD_MARK "\xef\xbf\xbd" /* U+FFFD */
#define SIO_PAYLOAD_MARK_LEN 3
#define SIO_PAYLOAD_MAX_DIGITS 9

/*
 * Decodes the UTF-8 character at s[0..avail): returns its length in bytes
 * and sets *units to its UTF-16 length; -1 when invalid (overlong,
 * surrogate, over U+10FFFF, bad continuation), -2 when avail ends inside
 * a character that is valid so far.
 */
static int
sio_payload_utf8_char(const unsigned char *s, size_t avail, int *units)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n, k;

	*units = 1;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return -1;
	/* The second byte's range rules out overlongs, surrogates, >U+10FFFF.
	 */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	for (k = 1; k < n; k++) {
		if ((size_t)k == avail)
			return -2;
		if (s[k] < lo || s[k] > hi)
			return -1;
		lo = 0x80;
		hi = 0xbf;
	}
	*units = n == 4 ? 2 : 1;
	return n;
}

ssize_t
sio_payload_utf16_len(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, units = 0;
	int n, w;

	while (i < len) {
		n = sio_payload_utf8_char(u + i, len - i, &w);
		if (n < 0)
			return -1;
		i += (size_t)n;
		units += (size_t)w;
	}
	return (ssize_t)units;
}

/*
 * Matches the U+FFFD marker at buf[i]: SIO_OK, -1 on a mismatch, -2 when
 * buf ends inside it.
 */
static int
sio_payload_mark(const char *buf, size_t len, size_t i)
{
	size_t k;

	for (k = 0; k < SIO_PAYLOAD_MARK_LEN; k++) {
		if (i + k == len)
			return -2;
		if (buf[i + k] != SIO_PAYLOAD_MARK[k])
			return -1;
	}
	return SIO_OK;
}

/* Reads the decimal length after the first marker; sets *i past it. */
static int
sio_payload_parse_len(const char *buf, size_t len, size_t *i, size_t *units)
{
	size_t j = *i, v = 0;

	for (; j < len && buf[j] >= '0' && buf[j] <= '9'; j++) {
		if (j - *i == SIO_PAYLOAD_MAX_DIGITS)
			return -1;
		v = v * 10 + (size_t)(buf[j] - '0');
	}
	if (j == len)
		return -2;
	/* An empty packet is no packet; "0" is as malformed as "". */
	if (j == *i || v == 0)
		return -1;
	*i = j;
	*units = v;
	return SIO_OK;
}

int
sio_payload_parse(const char *buf, size_t len, struct sio_slice *pkt)
{
	const unsigned char *u = (const unsigned char *)buf;
	size_t i = 0, start, want, got = 0;
	int rc, w;

	if ((rc = sio_payload_mark(buf, len, i)) != SIO_OK)
		return rc;
	i += SIO_PAYLOAD_MARK_LEN;
	if ((rc = sio_payload_parse_len(buf, len, &i, &want)) != SIO_OK)
		return rc;
	if ((rc = sio_payload_mark(buf, len, i)) != SIO_OK)
		return rc;
	start = i += SIO_PAYLOAD_MARK_LEN;
	while (got < want) {
		if (i == len)
			return -2;
		rc = sio_payload_utf8_char(u + i, len - i, &w);
		if (rc < 0)
			return rc;
		got += (size_t)w;
		i += (size_t)rc;
		if (i > INT_MAX)
			return -1;
	}
	/* A length that splits a surrogate pair cannot be sent as UTF-8. */
	if (got != want)
		return -1;
	pkt->p = buf + start;
	pkt->len = i - start;
	return (int)i;
}

int
sio_payload_split(const char *buf, size_t len, struct sio_slice *out,
                  size_t max, size_t *n)
{
	size_t i = 0, count = 0;
	int rc;

	if (len == 0 || max == 0)
		return SIO_ERR;
	if (len < SIO_PAYLOAD_MARK_LEN ||
	    memcmp(buf, SIO_PAYLOAD_MARK, SIO_PAYLOAD_MARK_LEN) != 0) {
		if (sio_payload_utf16_len(buf, len) < 0)
			return SIO_ERR;
		out[0].p = buf;
		out[0].len = len;
		*n = 1;
		return SIO_OK;
	}
	while (i < len) {
		if (count == max)
			return SIO_ERR;
		rc = sio_payload_parse(buf + i, len - i, &out[count]);
		if (rc < 0)
			return SIO_ERR;
		i += (size_t)rc;
		count++;
	}
	*n = count;
	return SIO_OK;
}

int
sio_payload_append_framed(struct sio_buf *b, const char *pkt, size_t len)
{
	size_t old = b->len;
	ssize_t units;

	units = sio_payload_utf16_len(pkt, len);
	/* What sio_payload_parse() would refuse is never written. */
	if (units <= 0 || units > 999999999)
		return SIO_ERR;
	if (sio_buf_printf(b, SIO_PAYLOAD_MARK "%zd" SIO_PAYLOAD_MARK, units) !=
	        SIO_OK ||
	    sio_buf_append(b, pkt, len) != SIO_OK) {
		sio_buf_truncate(b, old);
		return SIO_ERR;
	}
	return SIO_OK;
}

int
sio_payload_encode(struct sio_buf *b, const struct sio_slice *pkts, size_t n)
{
	size_t old = b->len, k;

	if (n == 0)
		return SIO_OK;
	if (n == 1) {
		if (sio_payload_utf16_len(pkts[0].p, pkts[0].len) < 0)
			return SIO_ERR;
		return sio_buf_append(b, pkts[0].p, pkts[0].len);
	}
	for (k = 0; k < n; k++) {
		if (sio_payload_append_framed(b, pkts[k].p, pkts[k].len) !=
		    SIO_OK) {
			sio_buf_truncate(b, old);
			return SIO_ERR;
		}
	}
	return SIO_OK;
}
