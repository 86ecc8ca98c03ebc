/*
 * fuzz_publish.h: the fuzz target over what POST /<resource>/publish reads
 * from the network: the JSON action list (sio_actions_parse() and
 * sio_actions_parse_max(), without and with a self sid, under several
 * limits) and the signature header (sio_sign_check()). The input is the
 * body as it is; and split at its first NUL or newline, a header and the
 * body it signs. A list parsed is within its limit; a refusal says why; a
 * signature is accepted only when its MAC is the one sio_sign() computes
 * for its time. Included by fuzz_body.h only.
 */
#ifndef SIO_FUZZ_PUBLISH_H
#define SIO_FUZZ_PUBLISH_H

#include "actions.h"
#include "sign.h"

#define FUZZ_PUBLISH_SECRET "fuzz-publish-secret-0123456789abcdef"
#define FUZZ_PUBLISH_NOW 1700000000LL

/* A refusal's reason: NUL-terminated inside err, not empty. */
static void
fuzz_publish_err(const char *err)
{
	FUZZ_CHECK(memchr(err, '\0', SIO_ERR_LEN) != NULL && err[0] != '\0');
}

/* One parse of body under max (and max_packet, when not 0). */
static void
fuzz_publish_parse(const char *body, size_t len, size_t max, size_t max_packet,
                   const char *self_sid)
{
	struct sio_actions *a = (struct sio_actions *)&a;
	char err[SIO_ERR_LEN];
	int rc;

	memset(err, 'x', sizeof(err));
	if (max_packet == 0)
		rc = sio_actions_parse(body, len, max, self_sid, &a, err);
	else
		rc = sio_actions_parse_max(body, len, max, max_packet, self_sid,
		                           &a, err);
	if (rc == SIO_OK) {
		FUZZ_CHECK(a != NULL && sio_actions_count(a) <= max);
		for (size_t i = 0; i < sio_actions_count(a); i++)
			FUZZ_CHECK(sio_actions_is_disconnect(a, i) == 0 ||
			           sio_actions_is_disconnect(a, i) == 1);
		sio_actions_free(a);
		return;
	}
	FUZZ_CHECK(rc == SIO_ERR || rc == SIO_TOO_BIG);
	FUZZ_CHECK(a == NULL);
	fuzz_publish_err(err);
}

/* The value of the header's one "t=" item (items between commas, spaces
 * around them), as sign.h describes it: 1, or 0 when there is none. */
static int
fuzz_publish_time(const char *h, long long *t)
{
	int found = 0;

	while (*h != '\0') {
		size_t n = strcspn(h, ","), k;

		while (n > 0 && *h == ' ')
			h++, n--;
		while (n > 0 && h[n - 1] == ' ')
			n--;
		if (n >= 2 && h[0] == 't' && h[1] == '=') {
			*t = 0;
			for (k = 2;
			     k < n && k < 20 && isdigit((unsigned char)h[k]);
			     k++)
				*t = *t * 10 + (h[k] - '0');
			found++;
		}
		h += strcspn(h, ",");
		h += *h == ',';
	}
	return found == 1;
}

/* True when the header has a v1= item that is sig's MAC (any case). */
static int
fuzz_publish_has_mac(const char *h, const char *sig)
{
	const char *mac = strstr(sig, ",v1=") + 4, *p;

	for (p = h; (p = strstr(p, "v1=")) != NULL; p += 3)
		if (strncasecmp(p + 3, mac, 64) == 0)
			return 1;
	return 0;
}

/* The header part of the input against the body part. */
static void
fuzz_publish_sign(const uint8_t *data, size_t size)
{
	size_t hlen = 0, blen;
	char *header, err[SIO_ERR_LEN], sig[SIO_SIGN_LEN];
	const uint8_t *body;
	long long t = -1;
	int rc;

	while (hlen < size && data[hlen] != '\0' && data[hlen] != '\n')
		hlen++;
	header = fuzz_cstr(data, hlen);
	body = hlen < size ? data + hlen + 1 : data + size;
	blen = hlen < size ? size - hlen - 1 : 0;
	/* now: a fixed time, and the header's own (never stale) */
	for (int k = 0; k < 2; k++) {
		long long now = FUZZ_PUBLISH_NOW;

		if (k == 1 && !fuzz_publish_time(header, &now))
			break;
		memset(err, 'x', sizeof(err));
		rc = sio_sign_check(FUZZ_PUBLISH_SECRET, header, body, blen,
		                    now, err);
		if (rc != SIO_OK) {
			FUZZ_CHECK(rc == SIO_REJECT);
			FUZZ_CHECK(strcmp(err, "bad signature") == 0 ||
			           strcmp(err, "stale signature") == 0);
			continue;
		}
		/* accepted: the MAC is the one of the body at the header's
		 * time, which is near now */
		FUZZ_CHECK(fuzz_publish_time(header, &t));
		FUZZ_CHECK(t >= now - SIO_SIGN_SKEW &&
		           t <= now + SIO_SIGN_SKEW);
		FUZZ_CHECK(sio_sign(FUZZ_PUBLISH_SECRET, body, blen, t, sig) ==
		           SIO_OK);
		FUZZ_CHECK(fuzz_publish_has_mac(header, sig));
	}
	/* the body signed now is accepted, and not with another secret */
	FUZZ_CHECK(sio_sign(FUZZ_PUBLISH_SECRET, body, blen, FUZZ_PUBLISH_NOW,
	                    sig) == SIO_OK);
	FUZZ_CHECK(sio_sign_check(FUZZ_PUBLISH_SECRET, sig, body, blen,
	                          FUZZ_PUBLISH_NOW, err) == SIO_OK);
	FUZZ_CHECK(sio_sign_check(FUZZ_PUBLISH_SECRET "!", sig, body, blen,
	                          FUZZ_PUBLISH_NOW, err) == SIO_REJECT);
	free(header);
}

static void
fuzz_publish(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = {0, 1, 3, 100, 10000};
	static const char self[] = "AbCdEfGhIjKlMnOpQrSt-_";
	const char *body = (const char *)data;
	size_t k;

	FUZZ_CHECK(sizeof(self) == SIO_SID_LEN + 1);
	for (k = 0; k < sizeof(maxes) / sizeof(maxes[0]); k++)
		fuzz_publish_parse(body, size, maxes[k], 0, NULL);
	fuzz_publish_parse(body, size, 100, 0, self);
	fuzz_publish_parse(body, size, 100, 16, NULL);
	fuzz_publish_parse(body, size, 10000, 64, self);
	fuzz_publish_sign(data, size);
}

#endif
