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
#define WS_CLOSE_TRY_AGAIN_LATER 1013 /* RFC 6455 registry; not in lws 4.1 */

static struct sio_ratelimit ws_buffered_rl, ws_share_rl;

/* The route of wsi's request, or -1 (headers are gone after ESTABLISHED). */
static int
ws_request_route(struct lws *wsi, char sid[SIO_SID_LEN + 1])
{
	char uri[WS_URI_MAX];

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
		return -1;
	return wsd_route(uri, sid);
}

/* RFC 6455 4.1: Sec-WebSocket-Key is the base64 of 16 bytes, i.e. 22
 * characters of the base64 alphabet and "==". 1 when key is one. */
static int
ws_key_valid(const char *key, int len)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789+/";

	if (len != 24 || key[22] != '=' || key[23] != '=')
		return 0;
	for (int i = 0; i < 22; i++)
		if (key[i] == '\0' || strchr(b64, key[i]) == NULL)
			return 0;
	return 1;
}

/* The upgrade request, before lws answers 101 (and before lws looks at
 * the key, which it would take as it is): 0 to go on, 1 refused. */
static int
ws_confirm(struct lws *wsi)
{
	char sid[SIO_SID_LEN + 1], origin[256], key[64];
	const char *o = NULL;
	int klen;

	if (ws_request_route(wsi, sid) < 0) {
		lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
		return 1;
	}
	klen = lws_hdr_total_length(wsi, WSI_TOKEN_KEY);
	if (klen <= 0 || klen >= (int)sizeof(key) ||
	    lws_hdr_copy(wsi, key, sizeof(key), WSI_TOKEN_KEY) != klen ||
	    !ws_key_valid(key, klen)) {
		wsd_log(SIO_LOG_INFO,
		        "%s: upgrade refused: %s Sec-WebSocket-Key", sid,
		        klen <= 0 ? "no" : "a malformed");
		lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, NULL);
		return 1;
	}
	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) > 0)
		o = origin;
	if (!sio_config_origin_allowed(&wsd.cfg, o)) {
		wsd_log(SIO_LOG_INFO, "%s: bad origin %s", sid, o ? o : "-");
		lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
		return 1;
	}
	if (wsd.cfg.bind_address) {
		char fwd[256];
		int n = lws_hdr_copy(wsi, fwd, sizeof(fwd),
		                     WSI_TOKEN_X_FORWARDED_FOR);
		if (wsd_conn_bound_elsewhere(wsi, sid, fwd,
		                             n > 0 ? (size_t)n : 0)) {
			lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN,
			                       NULL);
			return 1;
		}
	}
	return 0;
}

/* lws closes c on its own, a protocol error by the client (RFC 6455
 * frames: reserved bits, opcode, fragmented control frame, invalid UTF-8
 * ...): one log line with lws's close status, and the session detaches
 * now, before anything else can be written. */
static void
ws_lws_closing(struct wsd_conn *c, struct lws *wsi)
{
	const unsigned char *p = lws_get_close_payload(wsi);
	int len = lws_get_close_length(wsi);
	int code = len >= 2 ? p[0] << 8 | p[1] : 0;

	if (c->d.conn == 0)
		return;
	/* RFC 6455 7.1.7: fail the connection, i.e. close TCP once the
	 * close frame is out. lws would wait 5 s for the client's close,
	 * which its parser may not even see after the error (it is then in
	 * the middle of the bad frame): the next writeable callback, which
	 * comes after the close frame, ends it. */
	c->proto_error = 1;
	lws_callback_on_writable(wsi);
	wsd_log(SIO_LOG_INFO, "%s: closed by protocol error: %d %.*s", c->d.sid,
	        code, len > 2 ? len - 2 : 0,
	        len > 2 ? (const char *)p + 2 : "");
	wsd_conn_close(c, "protocol error");
}

/* The warning for a message that does not fit (rc from
 * wsd_conn_buffer_hold()), a few lines a minute. */
static void
ws_busy_log(const struct wsd_conn *c, int rc)
{
	if (rc == SIO_FULL)
		wsd_log_limited(&ws_share_rl, SIO_LOG_WARN,
		                "%s: max_buffered_per_address (%zu) reached by "
		                "%s: closing with 1013",
		                c->d.sid, sio_config_buffered_share(&wsd.cfg),
		                wsd_conn_address(c));
	else
		wsd_log_limited(&ws_buffered_rl, SIO_LOG_WARN,
		                "%s: max_buffered (%zu) reached: closing with "
		                "1013",
		                c->d.sid, wsd.cfg.max_buffered);
}

/* How long a close for what the client sent waits for the client's
 * close before TCP ends anyway (lws 4.1 would wait 5 s, and can lose
 * track of the client's close behind the rest of a message it refused). */
#define WS_RX_CLOSE_US 1000000

/* sio-wsd closes c for what the client sent (status, reason): no data
 * frame after its close frame (ws_writeable()), TCP ends at the client's
 * close or WS_RX_CLOSE_US later (the timer, ws_callback()). */
static void
ws_rx_close(struct wsd_conn *c, struct lws *wsi, enum lws_close_status status,
            const char *reason)
{
	c->local_close = c->rx_close = 1;
	if (reason != NULL)
		lws_close_reason(wsi, status, (unsigned char *)reason,
		                 strlen(reason));
	lws_set_timer_usecs(wsi, WS_RX_CLOSE_US);
}

/* One fragment of a text message; the whole message goes to the session.
 * 0 to go on, -1 to close. */
static int
ws_receive(struct wsd_conn *c, struct lws *wsi, const char *in, size_t len)
{
	int rc;

	if (lws_frame_is_binary(wsi)) {
		/* socket.io 0.9 ignores binary frames too */
		if (lws_is_final_fragment(wsi) &&
		    lws_remaining_packet_payload(wsi) == 0)
			wsd_log(SIO_LOG_INFO, "%s: binary frame ignored",
			        c->d.sid);
		return 0;
	}
	if (c->rx.len + len > wsd.cfg.max_packet) {
		wsd_log(SIO_LOG_INFO, "%s: message over max_packet (%zu)",
		        c->d.sid, wsd.cfg.max_packet);
		wsd_conn_buffer_hold(c, 0);
		sio_buf_cleanup(&c->rx);
		ws_rx_close(c, wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
		            "message too large");
		return -1;
	}
	if (c->rx.len == 0 && lws_is_final_fragment(wsi) &&
	    lws_remaining_packet_payload(wsi) == 0) {
		wsd_conn_receive(c, in != NULL ? in : "", len); /* one frame */
		return 0;
	}
	/* lws hands a message over in pieces of rx_buffer_size: a short
	 * one is held under WSD_BUFFER_FREE, not counted */
	if ((rc = wsd_conn_buffer_hold(c, c->rx.len + len)) != SIO_OK) {
		/* the share goes back now, not when lws ends the close
		 * handshake */
		wsd_conn_buffer_hold(c, 0);
		sio_buf_cleanup(&c->rx);
		ws_busy_log(c, rc);
		ws_rx_close(c, wsi,
		            (enum lws_close_status)WS_CLOSE_TRY_AGAIN_LATER,
		            "server busy");
		return -1;
	}
	if (len > 0 && sio_buf_append(&c->rx, in, len) != SIO_OK) {
		wsd_conn_buffer_hold(c, c->rx.len);
		wsd_log(SIO_LOG_ERROR, "%s: out of memory", c->d.sid);
		ws_rx_close(c, wsi, LWS_CLOSE_STATUS_NOSTATUS, NULL);
		return -1;
	}
	if (!lws_is_final_fragment(wsi) ||
	    lws_remaining_packet_payload(wsi) != 0)
		return 0;
	wsd_conn_receive(c, c->rx.p != NULL ? c->rx.p : "", c->rx.len);
	wsd_conn_buffer_hold(c, 0);
	sio_buf_reset(&c->rx);
	if (c->rx.cap > 65536)
		sio_buf_cleanup(&c->rx);
	return 0;
}

/* One writeable callback: at most one frame. 0 to go on, -1 to close. */
static int
ws_writeable(struct wsd_conn *c, struct lws *wsi)
{
	struct sio_slice out;
	int n;

	if (c->peer_close)
		return 0; /* lws answers the close; no data after it */
	if (c->local_close)
		/* Our close frame is out: no data after it. TCP ends now,
		 * unless the close was for what the client sent, which may
		 * still be arriving (closing on it would reset the
		 * connection, losing our close frame): lws reads on until the
		 * client's close, or until ws_rx_close()'s timer. */
		return c->rx_close ? 0 : -1;
	if (lws_get_close_length(wsi) > 0) {
		/* lws is closing on its own (its close frame is out or on
		 * its way): not one data frame more */
		ws_lws_closing(c, wsi);
		return 0;
	}
	switch (wsd_conn_next(c, LWS_PRE, &out)) {
	case WSD_CONN_IDLE:
		return 0;
	case WSD_CONN_CLOSE:
		c->local_close = 1;
		lws_close_reason(wsi,
		                 c->going_away ? LWS_CLOSE_STATUS_GOINGAWAY
		                               : LWS_CLOSE_STATUS_NORMAL,
		                 NULL, 0);
		return -1;
	case WSD_CONN_WRITE:
		break;
	}
	/* lws writes the frame header into the headroom */
	n = lws_write(wsi, (unsigned char *)out.p + LWS_PRE, out.len - LWS_PRE,
	              LWS_WRITE_TEXT);
	wsd_conn_written(c, n >= 0);
	if (n < 0) {
		wsd_log(SIO_LOG_INFO, "%s: write failed", c->d.sid);
		c->local_close = 1;
		return -1;
	}
	return 0;
}

/* GET /<resource>/health: the headers of 200 "ok" for load balancers
 * (the body at the writeable callback); the loop is turning. */
static int
ws_health(struct lws *wsi)
{
	unsigned char buf[LWS_PRE + 256], *p = buf + LWS_PRE,
	                                  *end = buf + sizeof(buf) - 1;

	if (lws_add_http_common_headers(
	        wsi, HTTP_STATUS_OK, "text/plain; charset=utf-8", 2, &p, end) ||
	    lws_finalize_write_http_header(wsi, buf + LWS_PRE, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
            void *in, size_t len)
{
	struct wsd_conn *c = user;
	char sid[SIO_SID_LEN + 1], fwd[256], addr[WSD_ADDR_LEN];
	int t, n;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		if (in == NULL || strcmp(in, "websocket") != 0) {
			lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND,
			                       NULL);
			return 1;
		}
		return ws_confirm(wsi);
	case LWS_CALLBACK_HTTP:
		if (in != NULL && wsd_route_health(in))
			return ws_health(wsi);
		if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
			return -1;
		return lws_http_transaction_completed(wsi);
	case LWS_CALLBACK_HTTP_WRITEABLE: /* only ws_health() asks */
	{
		unsigned char body[LWS_PRE + 2];

		memcpy(body + LWS_PRE, "ok", 2);
		if (lws_write(wsi, body + LWS_PRE, 2, LWS_WRITE_HTTP_FINAL) !=
		    2)
			return -1;
	}
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_ESTABLISHED:
		t = ws_request_route(wsi, sid);
		if (t < 0)
			return -1;
		n = lws_hdr_copy(wsi, fwd, sizeof(fwd),
		                 WSI_TOKEN_X_FORWARDED_FOR);
		wsd_conn_client_addr(wsi, fwd, n > 0 ? (size_t)n : 0, addr);
		if (wsd_conn_open(c, wsi, sid, t, addr) != SIO_OK)
			return -1;
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (c->d.conn == 0)
			return 0;
		return ws_receive(c, wsi, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c->proto_error)
			return -1; /* the close frame is out: TCP goes now */
		if (c->d.conn == 0)
			return 0;
		return ws_writeable(c, wsi);
	case LWS_CALLBACK_TIMER: /* a delayed packet is due */
		if (c->local_close)
			return -1; /* ws_rx_close(): TCP ends now */
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* lws echoes the close; nothing is written after it */
		if (c->d.conn != 0) {
			c->peer_close = 1;
			wsd_log(SIO_LOG_DEBUG, "%s: the client closes (%d)",
			        c->d.sid,
			        len >= 2 ? ((unsigned char *)in)[0] << 8 |
			                       ((unsigned char *)in)[1]
			                 : 1005);
		}
		return 0;
	case LWS_CALLBACK_WS_SERVER_DROP_PROTOCOL:
		/* the start of lws's close: when neither side asked for it
		 * and lws set a close status, the client broke the protocol */
		if (c != NULL && c->d.conn != 0 && !c->local_close &&
		    !c->peer_close && lws_get_close_length(wsi) > 0)
			ws_lws_closing(c, wsi);
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
    /* lws allocates this per connection (4 KiB when 0); longer
     * messages come in pieces, which ws_receive joins */
    .rx_buffer_size = 128,
};

const struct lws_protocols *
wsd_ws_protocol(void)
{
	return &ws_protocol;
}
