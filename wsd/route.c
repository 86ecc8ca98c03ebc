/*
 * route.c: the path of a websocket or flashsocket upgrade to a transport
 * and a sid (wsd.h). Pure over the path and the configuration, with no
 * libwebsockets, so the fuzz target links it alone.
 */
#include <string.h>

#include "wsd.h"

int
wsd_route_health(const char *path)
{
	const char *res = wsd.cfg.resource;
	size_t rlen = strlen(res), n = strcspn(path, "?");

	return n == rlen + 8 && path[0] == '/' &&
	       strncmp(path + 1, res, rlen) == 0 &&
	       strncmp(path + 1 + rlen, "/health", 7) == 0;
}

int
wsd_route(const char *path, char sid[SIO_SID_LEN + 1])
{
	const char *res = wsd.cfg.resource, *p = path, *slash;
	size_t rlen = strlen(res), n;
	char name[16];
	int t;

	if (*p++ != '/' || strncmp(p, res, rlen) != 0 || p[rlen] != '/')
		return -1;
	p += rlen + 1;
	if (strncmp(p, "1/", 2) != 0)
		return -1;
	p += 2;
	slash = strchr(p, '/');
	if (slash == NULL || (n = (size_t)(slash - p)) >= sizeof(name))
		return -1;
	memcpy(name, p, n);
	name[n] = '\0';
	t = sio_config_transport_parse(name);
	if ((t != SIO_TRANSPORT_WEBSOCKET && t != SIO_TRANSPORT_FLASHSOCKET) ||
	    !sio_config_transport_enabled(&wsd.cfg, (enum sio_transport)t))
		return -1;
	p = slash + 1;
	n = strcspn(p, "/");
	if (n == 0 || n > SIO_SID_LEN || (p[n] == '/' && p[n + 1] != '\0'))
		return -1;
	memcpy(sid, p, n);
	sid[n] = '\0';
	return t;
}
