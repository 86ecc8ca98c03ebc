/*
 * policy.c: the Flash socket policy request and XML (see policy.h). The
 * XML head and tail are socket.io 0.9's, byte for byte; the SWF only
 * connects once Flash Player has read a policy naming its origin.
 */
#include <string.h>

#include "policy.h"
#include "siogate.h"

#define POLICY_SEP " \t,"

static const char policy_head[] =
    "<?xml version=\"1.0\"?><!DOCTYPE cross-domain-policy SYSTEM "
    "\"http://www.macromedia.com/xml/dtds/cross-domain-policy.dtd\">"
    "<cross-domain-policy>";
static const char policy_tail[] = "</cross-domain-policy>";

int
wsd_policy_is_request(const char *buf, size_t len)
{
	/* sizeof counts the string's NUL, which is part of the request. */
	static const char req[] = WSD_POLICY_REQUEST;
	size_t n = len < sizeof(req) ? len : sizeof(req);

	if (n > 0 && memcmp(buf, req, n) != 0)
		return SIO_ERR;
	return len < sizeof(req) ? SIO_AGAIN : WSD_POLICY_REQUEST_LEN;
}

/* Appends s[0..len) with the five XML special characters escaped. */
static int
policy_escape(struct sio_buf *b, const char *s, size_t len)
{
	const char *rep;
	size_t i;
	int rc = SIO_OK;

	for (i = 0; i < len && rc == SIO_OK; i++) {
		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&apos;";
			break;
		default:
			rep = NULL;
			break;
		}
		rc = rep != NULL ? sio_buf_puts(b, rep) : sio_buf_putc(b, s[i]);
	}
	return rc;
}

/* One <allow-access-from/> for the entry e[0..len). */
static int
policy_entry(struct sio_buf *b, const char *e, size_t len)
{
	size_t colon = len, i;

	while (colon > 0 && e[colon - 1] != ':')
		colon--;
	if (colon < 2 || colon == len)
		return SIO_ERR;
	if (!(len - colon == 1 && e[colon] == '*'))
		for (i = colon; i < len; i++)
			if (e[i] < '0' || e[i] > '9')
				return SIO_ERR;
	if (sio_buf_puts(b, "<allow-access-from domain=\"") != SIO_OK ||
	    policy_escape(b, e, colon - 1) != SIO_OK ||
	    sio_buf_printf(b, "\" to-ports=\"%.*s\"/>", (int)(len - colon),
	                   e + colon) != SIO_OK)
		return SIO_ERR;
	return SIO_OK;
}

int
wsd_policy_encode(struct sio_buf *b, const char *origins,
                  enum wsd_policy_mode mode)
{
	const char *p = origins;
	size_t old = b->len, len;
	int n = 0;

	if (sio_buf_puts(b, policy_head) != SIO_OK)
		goto err;
	for (;; n++) {
		p += strspn(p, POLICY_SEP);
		if (*p == '\0')
			break;
		len = strcspn(p, POLICY_SEP);
		if (policy_entry(b, p, len) != SIO_OK)
			goto err;
		p += len;
	}
	if (n == 0 || sio_buf_puts(b, policy_tail) != SIO_OK)
		goto err;
	if (mode == WSD_POLICY_INLINE && sio_buf_putc(b, '\0') != SIO_OK)
		goto err;
	return SIO_OK;
err:
	sio_buf_truncate(b, old);
	return SIO_ERR;
}
