/*
 * listen.c: the daemons' listen address, "HOST:PORT", "[V6]:PORT",
 * ":PORT", "PORT" or a path (listen.h). The port is the text after the
 * last colon, so that an unbracketed IPv6 address is refused rather than
 * cut at its first colon.
 */
#include <stdio.h>
#include <string.h>

#include "listen.h"
#include "result.h"

/* Decimal 1..65535, the whole of s[0..len). -1 when not. */
static int
listen_port(const char *s, size_t len)
{
	int port = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		port = port * 10 + (s[i] - '0');
	}
	return port >= 1 && port <= 65535 ? port : -1;
}

static int
listen_bad(const char *spec, const char *why, char *err)
{
	if (err != NULL)
		sio_err(err,
		        "bad listen address '%.80s': %s (HOST:PORT, "
		        "[V6]:PORT, :PORT, PORT or a path with a /)",
		        spec, why);
	return SIO_ERR;
}

int
sio_listen_parse(const char *spec, struct sio_listen *out, char *err)
{
	const char *colon = strrchr(spec, ':');
	const char *host = spec;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (strchr(spec, '/') != NULL) {
		out->unix_path = 1;
		return SIO_OK;
	}
	if (colon == NULL) { /* PORT */
		out->port = listen_port(spec, strlen(spec));
		return out->port > 0 ? SIO_OK
		                     : listen_bad(spec, "not a port", err);
	}
	out->port = listen_port(colon + 1, strlen(colon + 1));
	if (out->port < 0)
		return listen_bad(spec, "not a port", err);
	hlen = (size_t)(colon - spec);
	if (hlen > 0 && spec[0] == '[') {
		if (spec[hlen - 1] != ']' || hlen < 3)
			return listen_bad(spec, "bad brackets", err);
		host++;
		hlen -= 2;
		out->v6 = 1;
	} else if (memchr(spec, ':', hlen) != NULL)
		return listen_bad(spec, "an IPv6 address needs brackets", err);
	else if (memchr(spec, '[', hlen) != NULL ||
	         memchr(spec, ']', hlen) != NULL)
		return listen_bad(spec, "stray bracket", err);
	if (hlen > SIO_LISTEN_HOST_MAX)
		return listen_bad(spec, "host too long", err);
	if (hlen == 1 && host[0] == '*')
		hlen = 0;
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	return SIO_OK;
}
