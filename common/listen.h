/*
 * listen.h: the `--listen` value of both daemons (and sio-wsd's
 * `--flash-listen`), parsed once: "HOST:PORT" (a name such as localhost,
 * an IPv4 address, or "*" for every interface), "[V6]:PORT", ":PORT" and
 * "PORT" (every interface), or a UNIX socket path, which contains a '/'
 * ("/run/siogate/gateway.sock", "./gw.sock"). Pure: no socket is opened
 * and no name resolved; each daemon binds what it gets its own way.
 */
#ifndef SIO_LISTEN_H
#define SIO_LISTEN_H

#include "siogate.h"

#define SIO_LISTEN_HOST_MAX 255

struct sio_listen {
	int unix_path; /* 1: spec is a UNIX socket path, host and port unset */
	/* "" for every interface ("", "*"), else the host as written,
	 * without the brackets of an IPv6 address */
	char host[SIO_LISTEN_HOST_MAX + 1];
	int v6;   /* host was bracketed: an IPv6 address */
	int port; /* 1..65535 */
};

/*
 * Parses spec into out. SIO_OK, or SIO_ERR with the reason in err
 * (SIO_ERR_LEN bytes, may be NULL); out is then unspecified.
 */
int sio_listen_parse(const char *spec, struct sio_listen *out, char *err);

#endif
