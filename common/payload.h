/*
 * payload.h: payload framing of the polling transports,
 * `\ufffd<len>\ufffd<packet>` repeated, where len counts UTF-16 code units
 * as the JavaScript client's String.length does (a character outside the
 * BMP counts 2). A single packet travels unframed.
 */
#ifndef SIO_PAYLOAD_H
#define SIO_PAYLOAD_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct sio_slice {
	const char *p;
	size_t len;
};

/*
 * Number of UTF-16 code units in the UTF-8 text s[0..len), or -1 when it
 * is not valid UTF-8 (overlong forms, surrogates and values over U+10FFFF
 * are invalid).
 */
ssize_t sio_payload_utf16_len(const char *s, size_t len);

/*
 * Parses one framed element `\ufffd<len>\ufffd<packet>` at buf. Returns the
 * bytes consumed and sets *pkt (into buf); -1 when malformed (no
 * marker, bad digits, a length that ends inside a character, invalid
 * UTF-8); -2 when buf ends before the element does.
 */
int sio_payload_parse(const char *buf, size_t len, struct sio_slice *pkt);

/*
 * Splits a whole payload into its packets: one unframed packet when it does
 * not start with U+FFFD, else a sequence of framed elements with nothing
 * after the last. Writes up to max slices into out (pointing into buf) and
 * their count into *n. Returns SIO_OK; SIO_ERR when malformed, truncated,
 * not valid UTF-8, empty, or holding more than max packets.
 */
int sio_payload_split(const char *buf, size_t len, struct sio_slice *out,
                      size_t max, size_t *n);

/*
 * Appends the payload of n packets to b: the packet as it is when n == 1,
 * framed elements otherwise; n == 0 appends nothing. SIO_OK, or SIO_ERR
 * when a packet is not valid UTF-8 or memory runs out (b unchanged).
 */
int sio_payload_encode(struct sio_buf *b, const struct sio_slice *pkts,
                       size_t n);

/* Appends one framed element. SIO_OK or SIO_ERR as above. */
int sio_payload_append_framed(struct sio_buf *b, const char *pkt, size_t len);

#endif
