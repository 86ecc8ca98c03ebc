/*
 * ws.c: the RFC 6455 front of sio-wsd, one lws protocol callback. The
 * upgrade is checked before lws switches roles (a wrong path gets a real
 * 404), the connection attaches once established, every complete text
 * message is one packet in, and every writeable callback writes at most
 * one packet out (lws refuses back-to-back writes). Ping, pong and the
 * close handshake are lws's.
 */
#include <string.h>

#include <libwebsockets.h>

#include "wsd.h"

#define WS_URI_MAX 512

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

/* The route of wsi's request, or -1 (headers are gone after ESTABLISHED). */
static int
ws_request_route(struct lws *wsi, char sid[SIO_SID_LEN + 1])
{
	char uri[WS_URI_MAX];

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
		return -1;
	return wsd_route(uri, sid);
}

/* The upgrade request, before lws answers 101: 0 to go on, 1 refused. */
static int
ws_confirm(struct lws *wsi)
{
	char sid[SIO_SID_LEN + 1], origin[256];
	const char *o = NULL;

	if (ws_request_route(wsi, sid) < 0) {
		lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
		return 1;
	}
	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) > 0)
		o = origin;
	if (!sio_config_origin_allowed(&wsd.cfg, o)) {
		wsd_log(SIO_LOG_INFO, "%s: bad origin %s", sid, o ? o : "-");
		lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
		return 1;
	}
	return 0;
}

/* One fragment of a text message; the whole message goes to the session.
 * 0 to go on, -1 to close. */
static int
ws_receive(struct wsd_conn *c, struct lws *wsi, const char *in, size_t len)
{
	if (lws_frame_is_binary(wsi)) {
		/* socket.io 0.9 ignores binary frames too */
		if (lws_is_final_fragment(wsi) &&
		    lws_remaining_packet_payload(wsi) == 0)
			wsd_log(SIO_LOG_INFO, "%s: binary frame ignored",
			        c->sid);
		return 0;
	}
	if (c->rx.len + len > wsd.cfg.max_packet) {
		wsd_log(SIO_LOG_INFO, "%s: message over max_packet (%zu)",
		        c->sid, wsd.cfg.max_packet);
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
		                 (unsigned char *)"message too large", 17);
		return -1;
	}
	if (len > 0 && sio_buf_append(&c->rx, in, len) != SIO_OK) {
		wsd_log(SIO_LOG_ERROR, "%s: out of memory", c->sid);
		return -1;
	}
	if (!lws_is_final_fragment(wsi) ||
	    lws_remaining_packet_payload(wsi) != 0)
		return 0;
	wsd_conn_receive(c, c->rx.p != NULL ? c->rx.p : "", c->rx.len);
	sio_buf_reset(&c->rx);
	if (c->rx.cap > 65536)
		sio_buf_cleanup(&c->rx);
	return 0;
}

/* One writeable callback: at most one frame. 0 to go on, -1 to close. */
static int
ws_writeable(struct wsd_conn *c, struct lws *wsi)
{
	size_t len;
	int n;

	switch (wsd_conn_next(c, LWS_PRE)) {
	case WSD_CONN_IDLE:
		return 0;
	case WSD_CONN_CLOSE:
		lws_close_reason(wsi,
		                 c->going_away ? LWS_CLOSE_STATUS_GOINGAWAY
		                               : LWS_CLOSE_STATUS_NORMAL,
		                 NULL, 0);
		return -1;
	case WSD_CONN_WRITE:
		break;
	}
	len = c->tx.len - LWS_PRE;
	n = lws_write(wsi, (unsigned char *)c->tx.p + LWS_PRE, len,
	              LWS_WRITE_TEXT);
	wsd_conn_written(c, n >= 0);
	if (n < 0) {
		wsd_log(SIO_LOG_INFO, "%s: write failed", c->sid);
		return -1;
	}
	return 0;
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
            void *in, size_t len)
{
	struct wsd_conn *c = user;
	char sid[SIO_SID_LEN + 1];
	int t;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		if (in == NULL || strcmp(in, "websocket") != 0) {
			lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND,
			                       NULL);
			return 1;
		}
		return ws_confirm(wsi);
	case LWS_CALLBACK_HTTP:
		if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
			return -1;
		return lws_http_transaction_completed(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		t = ws_request_route(wsi, sid);
		if (t < 0 || wsd_conn_open(c, wsi, sid, t) != SIO_OK)
			return -1;
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (c->conn == 0)
			return 0;
		return ws_receive(c, wsi, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c->conn == 0)
			return 0;
		return ws_writeable(c, wsi);
	case LWS_CALLBACK_TIMER: /* a delayed packet is due */
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLOSED:
		/* also for upgrades refused after the role switch, whose
		 * per-connection data is still zero */
		wsd_conn_close(c, "socket closed");
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols ws_protocol = {
    .name = "socket.io",
    .callback = ws_callback,
    .per_session_data_size = sizeof(struct wsd_conn),
    .rx_buffer_size = 0,
};

const struct lws_protocols *
wsd_ws_protocol(void)
{
	return &ws_protocol;
}
