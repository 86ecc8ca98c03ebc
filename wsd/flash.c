/*
 * flash.c: what the flashsocket SWF of socket.io-client 0.9.16 needs from
 * sio-wsd, on lws raw sockets because lws 4.1 drops hixie-76 upgrades
 * without an answer. Two protocols:
 *
 * - "sio-flash", the flash listener (--flash-listen) where the web
 *   servers route /<resource>/1/flashsocket/: an inline policy request
 *   gets the XML and a NUL; otherwise the bytes must be a hixie-76 upgrade
 *   (hixie.h). The 101 head goes out as soon as the head is parsed (the
 *   proxies hold key3 until they see a 101), the 16-byte digest once the
 *   8 bytes of key3 arrive, then the session runs through conn.c with one
 *   packet per `0x00 <utf8> 0xFF` frame both ways. It is also the raw
 *   fallback of the websocket listener, which only gets there what lws
 *   could not parse as HTTP: the inline policy request.
 * - "sio-flash-policy", the policy port: the XML without a NUL to every
 *   connection.
 *
 * Every way out is the same: the last bytes written, then a half-close
 * (shutdown SHUT_WR) and a drain of what the peer still sends until it
 * closes or FLASH_LINGER_S pass, so that a reset never eats the answer.
 */
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "hixie.h"
#include "policy.h"
#include "wsd.h"

#define FLASH_HEAD_S 10  /* for the head and key3 (proxies delay key3) */
#define FLASH_LINGER_S 5 /* for the peer to close after our half-close */
#define FLASH_PATH_MAX 512

enum flash_state {
	FLASH_HEAD = 0, /* reading the request (or the policy request) */
	FLASH_KEY3,     /* 101 head queued, waiting for the 8 bytes */
	FLASH_OPEN,     /* a session connection, frames both ways */
	FLASH_FINAL,    /* the last bytes are in out */
	FLASH_FLUSHED,  /* written: half-close at the next writeable */
	FLASH_LINGER,   /* half-closed, draining until the peer closes */
};

struct flash_conn {
	struct wsd_conn c; /* c.conn != 0 while attached */
	enum flash_state state;
	uint32_t key1, key2;
	struct sio_buf in; /* bytes read and not yet used */
	size_t scanned;    /* text of the frame at in.p already checked */
	/* the client's address, from the head (wsd_conn_client_addr()) */
	char client[WSD_ADDR_LEN];
	int raw;            /* holds a place of max_raw_connections */
	struct sio_buf out; /* handshake or final bytes, written first */
	struct sio_buf frame;
};

static struct sio_buf flash_xml;        /* policy port: no NUL */
static struct sio_buf flash_xml_inline; /* inline: with the NUL */

int
wsd_flash_init(void)
{
	sio_buf_reset(&flash_xml);
	sio_buf_reset(&flash_xml_inline);
	if (wsd_policy_encode(&flash_xml, wsd.cfg.origins, WSD_POLICY_PORT) !=
	        SIO_OK ||
	    wsd_policy_encode(&flash_xml_inline, wsd.cfg.origins,
	                      WSD_POLICY_INLINE) != SIO_OK) {
		wsd_log(SIO_LOG_ERROR,
		        "cannot build the Flash policy from "
		        "origins '%s'",
		        wsd.cfg.origins);
		return SIO_ERR;
	}
	return SIO_OK;
}

/* The peer's address for log lines. */
static const char *
flash_peer(struct lws *wsi, char *buf, size_t size)
{
	buf[0] = '\0';
	lws_get_peer_simple(wsi, buf, size);
	return buf[0] != '\0' ? buf : "local";
}

/* Drops the first n bytes of b. */
static void
flash_consume(struct sio_buf *b, size_t n)
{
	if (n >= b->len) {
		sio_buf_reset(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	sio_buf_truncate(b, b->len - n);
}

/* The connection ends after out (which may already hold bytes) and what
 * is appended here: detach from the session now, write, half-close. */
static void
flash_final(struct flash_conn *f, struct lws *wsi, const char *reason)
{
	if (f->c.d.conn != 0)
		wsd_conn_close(&f->c, reason);
	f->state = FLASH_FINAL;
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, FLASH_HEAD_S);
	lws_callback_on_writable(wsi);
}

/* An HTTP error answer to a bad upgrade, then the end. */
static void
flash_refuse(struct flash_conn *f, struct lws *wsi, int status,
             const char *text, const char *why)
{
	char peer[64];

	wsd_log(SIO_LOG_INFO, "flashsocket from %s refused (%d): %s",
	        flash_peer(wsi, peer, sizeof(peer)), status, why);
	sio_buf_reset(&f->out);
	sio_buf_printf(&f->out,
	               "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
	               "X-Content-Type-Options: nosniff\r\n"
	               "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
	               status, text, strlen(text) + 1, text);
	flash_final(f, wsi, why);
}

/* Whether the request came over TLS, as the proxy says. */
static int
flash_secure(const struct wsd_hixie_req *r)
{
	return r->fwd_proto_len == 5 &&
	       strncasecmp(r->fwd_proto, "https", 5) == 0;
}

/*
 * FLASH_HEAD: the policy request or the upgrade head in f->in. 0 to read
 * on (the state may have moved on), -1 to close at once.
 */
static int
flash_head(struct flash_conn *f, struct lws *wsi)
{
	struct wsd_hixie_req r;
	char path[FLASH_PATH_MAX], origin[256], sid[SIO_SID_LEN + 1];
	const char *q;
	size_t n;
	int rc, t;

	rc = wsd_policy_is_request(f->in.p, f->in.len);
	if (rc == -2)
		return 0;
	if (rc > 0) {
		if (sio_buf_append(&f->out, flash_xml_inline.p,
		                   flash_xml_inline.len) != SIO_OK)
			return -1;
		sio_buf_reset(&f->in);
		wsd_log(SIO_LOG_DEBUG, "inline policy request answered");
		flash_final(f, wsi, "policy");
		return 0;
	}
	memset(&r, 0, sizeof(r));
	rc = wsd_hixie_parse_request(f->in.p, f->in.len, &r);
	if (rc == -2)
		return 0;
	if (rc < 0) {
		flash_refuse(f, wsi, 400, "Bad Request",
		             r.rfc6455 ? "not a hixie-76 upgrade"
		             : r.err   ? r.err
		                       : "malformed request");
		return 0;
	}
	q = memchr(r.path, '?', r.path_len);
	n = q != NULL ? (size_t)(q - r.path) : r.path_len;
	t = -1;
	if (n < sizeof(path)) {
		memcpy(path, r.path, n);
		path[n] = '\0';
		t = wsd_route(path, sid);
	}
	if (t < 0) {
		flash_refuse(f, wsi, 404, "Not Found", "no such path");
		return 0;
	}
	if (r.origin_len >= sizeof(origin)) {
		flash_refuse(f, wsi, 403, "Forbidden", "origin too long");
		return 0;
	}
	memcpy(origin, r.origin, r.origin_len);
	origin[r.origin_len] = '\0';
	if (!sio_config_origin_allowed(&wsd.cfg, origin)) {
		flash_refuse(f, wsi, 403, "Forbidden", "bad origin");
		return 0;
	}
	if (wsd_conn_bound_elsewhere(wsi, sid, r.fwd_for, r.fwd_for_len)) {
		flash_refuse(f, wsi, 403, "Forbidden",
		             "bound to another address");
		return 0;
	}
	wsd_conn_client_addr(wsi, r.fwd_for, r.fwd_for_len, f->client);
	if (wsd_hixie_response_head(&f->out, &r, flash_secure(&r)) != SIO_OK)
		return -1;
	snprintf(f->c.d.sid, sizeof(f->c.d.sid), "%s", sid);
	f->c.d.transport = t;
	f->key1 = r.key1_num;
	f->key2 = r.key2_num;
	flash_consume(&f->in, (size_t)rc);
	f->state = FLASH_KEY3;
	lws_callback_on_writable(wsi); /* the 101 head, before key3 */
	return 0;
}

/* FLASH_KEY3: the digest once the 8 bytes are here, then the session. */
static int
flash_key3(struct flash_conn *f, struct lws *wsi)
{
	unsigned char d[WSD_HIXIE_DIGEST_LEN];
	char sid[SIO_SID_LEN + 1];

	if (f->in.len < WSD_HIXIE_KEY3_LEN)
		return 0;
	if (wsd_hixie_digest(f->key1, f->key2, (unsigned char *)f->in.p, d) !=
	        SIO_OK ||
	    sio_buf_append(&f->out, d, sizeof(d)) != SIO_OK) {
		wsd_log(SIO_LOG_ERROR, "flashsocket: digest failed");
		return -1;
	}
	flash_consume(&f->in, WSD_HIXIE_KEY3_LEN);
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	/* wsd_conn_open() sets the sid and transport from its arguments */
	snprintf(sid, sizeof(sid), "%s", f->c.d.sid);
	if (wsd_conn_open(&f->c, wsi, sid, f->c.d.transport, f->client) !=
	    SIO_OK)
		return -1;
	f->state = FLASH_OPEN;
	if (f->raw) {
		/* a session's connection now, under max_websockets */
		f->raw = 0;
		wsd_accept_give();
	}
	return 0;
}

/* FLASH_OPEN: every complete frame in f->in. 0, or -1 to close now. */
static int
flash_frames(struct flash_conn *f, struct lws *wsi)
{
	const char *payload;
	size_t plen, off = 0;
	int rc;

	while (f->state == FLASH_OPEN && off < f->in.len) {
		rc = wsd_hixie_frame_parse(f->in.p + off, f->in.len - off,
		                           wsd.cfg.max_packet, &f->scanned,
		                           &payload, &plen);
		if (rc == -2)
			break;
		if (rc < 0) {
			wsd_log(SIO_LOG_INFO,
			        "%s: bad hixie frame (unknown type, invalid "
			        "UTF-8 or over max_packet %zu): closing",
			        f->c.d.sid, wsd.cfg.max_packet);
			if (wsd_hixie_close_encode(&f->out) != SIO_OK)
				return -1;
			flash_final(f, wsi, "bad frame");
			break;
		}
		off += (size_t)rc;
		if (payload == NULL) {
			/* the client's closing frame: answer it, end */
			if (wsd_hixie_close_encode(&f->out) != SIO_OK)
				return -1;
			flash_final(f, wsi, "closing frame");
			break;
		}
		wsd_conn_receive(&f->c, payload, plen);
	}
	if (f->state == FLASH_OPEN)
		flash_consume(&f->in, off);
	else
		sio_buf_reset(&f->in);
	return 0;
}

/* FLASH_OPEN, after the complete frames: what is left in f->in is an
 * unfinished frame, which counts under max_buffered and the address's
 * share (wsd_conn_buffer_hold()); one that does not fit ends with the
 * closing frame. 0, or -1 to close now. */
static int
flash_hold(struct flash_conn *f, struct lws *wsi)
{
	static struct sio_ratelimit rl, share_rl;
	int rc = wsd_conn_buffer_hold(&f->c, f->in.len);

	if (rc == SIO_OK)
		return 0;
	if (rc == SIO_FULL)
		wsd_log_limited(&share_rl, SIO_LOG_WARN,
		                "%s: max_buffered_per_address (%zu) reached "
		                "by %s: closing",
		                f->c.d.sid, sio_config_buffered_share(&wsd.cfg),
		                f->client);
	else
		wsd_log_limited(&rl, SIO_LOG_WARN,
		                "%s: max_buffered (%zu) reached: closing",
		                f->c.d.sid, wsd.cfg.max_buffered);
	sio_buf_cleanup(&f->in);
	f->scanned = 0;
	if (wsd_hixie_close_encode(&f->out) != SIO_OK)
		return -1;
	flash_final(f, wsi, "max_buffered");
	return 0;
}

/* Bytes read. The head and key3 are not counted under max_buffered:
 * they have their own bounds (WSD_HIXIE_MAX_HEAD, 8 bytes), and one read
 * is at most lws's buffer; complete frames are used at once. */
static int
flash_rx(struct flash_conn *f, struct lws *wsi, const char *in, size_t len)
{
	if (f->state >= FLASH_FINAL)
		return 0; /* drained */
	if (len > 0 && sio_buf_append(&f->in, in, len) != SIO_OK) {
		wsd_log(SIO_LOG_ERROR, "flashsocket: out of memory");
		return -1;
	}
	if (f->state == FLASH_HEAD && flash_head(f, wsi) < 0)
		return -1;
	if (f->state == FLASH_KEY3 && flash_key3(f, wsi) < 0)
		return -1;
	if (f->state == FLASH_OPEN && flash_frames(f, wsi) < 0)
		return -1;
	if (f->state == FLASH_OPEN)
		return flash_hold(f, wsi);
	if (f->state >= FLASH_FINAL)
		sio_buf_cleanup(&f->in); /* a refused head, say */
	return 0;
}

/* One raw write of b's bytes; 0 or -1. */
static int
flash_write(struct lws *wsi, const struct sio_buf *b)
{
	return lws_write(wsi, (unsigned char *)b->p, b->len, LWS_WRITE_RAW) ==
	               (int)b->len
	           ? 0
	           : -1;
}

/* After the last bytes: half-close, then drain until the peer closes. */
static int
flash_linger(struct lws *wsi)
{
	shutdown(lws_get_socket_fd(wsi), SHUT_WR);
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, FLASH_LINGER_S);
	return 0;
}

/* One writeable callback: at most one write. 0, or -1 to close. */
static int
flash_writeable(struct flash_conn *f, struct lws *wsi)
{
	enum wsd_conn_step step;
	struct sio_slice pkt;
	int ok;

	if (f->out.len > 0) {
		if (flash_write(wsi, &f->out) < 0)
			return -1;
		sio_buf_reset(&f->out);
		if (f->state == FLASH_FINAL)
			f->state = FLASH_FLUSHED;
		lws_callback_on_writable(wsi);
		return 0;
	}
	switch (f->state) {
	case FLASH_FINAL: /* nothing was left to write */
	case FLASH_FLUSHED:
		f->state = FLASH_LINGER;
		return flash_linger(wsi);
	case FLASH_OPEN:
		break;
	default:
		return 0;
	}
	step = wsd_conn_next(&f->c, 0, &pkt);
	if (step == WSD_CONN_IDLE)
		return 0;
	if (step == WSD_CONN_CLOSE) {
		if (wsd_hixie_close_encode(&f->out) != SIO_OK)
			return -1;
		flash_final(f, wsi,
		            f->c.going_away ? "going away" : "session ended");
		return 0;
	}
	sio_buf_reset(&f->frame);
	if (wsd_hixie_frame_encode(&f->frame, pkt.p, pkt.len) != SIO_OK) {
		/* not UTF-8 (say, a row from the sqlite3 shell): it cannot
		 * be framed, and keeping it would block the queue */
		wsd_log(SIO_LOG_WARN, "%s: packet is not UTF-8: dropped",
		        f->c.d.sid);
		wsd_conn_written(&f->c, 1);
		return 0;
	}
	ok = flash_write(wsi, &f->frame) == 0;
	wsd_conn_written(&f->c, ok);
	if (f->frame.cap > 65536)
		sio_buf_cleanup(&f->frame);
	if (!ok) {
		wsd_log(SIO_LOG_INFO, "%s: write failed", f->c.d.sid);
		return -1;
	}
	return 0;
}

static int
flash_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
               void *in, size_t len)
{
	struct flash_conn *f = user;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		sio_buf_init(&f->in);
		sio_buf_init(&f->out);
		sio_buf_init(&f->frame);
		f->raw = wsd_accept_take();
		if (!f->raw) {
			/* over max_raw_connections (an inline policy request
			 * on the websocket listener): closed, unanswered */
			lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK,
			                LWS_TO_KILL_ASYNC);
			f->state = FLASH_LINGER;
			return 0;
		}
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, FLASH_HEAD_S);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		return flash_rx(f, wsi, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		return flash_writeable(f, wsi);
	case LWS_CALLBACK_TIMER: /* a delayed packet is due */
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		wsd_conn_close(&f->c, "socket closed");
		if (f->raw)
			wsd_accept_give();
		f->raw = 0;
		sio_buf_cleanup(&f->in);
		sio_buf_cleanup(&f->out);
		sio_buf_cleanup(&f->frame);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* The policy port: 0 fresh, 1 XML written, 2 half-closed; raw: holds a
 * place of max_raw_connections. */
struct flash_policy_conn {
	int state;
	int raw;
};

static int
flash_policy_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len)
{
	struct flash_policy_conn *p = user;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		p->raw = wsd_accept_take();
		if (!p->raw) {
			lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK,
			                LWS_TO_KILL_ASYNC);
			p->state = 2;
			return 0;
		}
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, FLASH_HEAD_S);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RAW_RX: /* the request, or anything: drained */
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		if (p->raw)
			wsd_accept_give();
		p->raw = 0;
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (p->state == 0) {
			if (flash_write(wsi, &flash_xml) < 0)
				return -1;
			p->state = 1;
			lws_callback_on_writable(wsi);
		} else if (p->state == 1) {
			p->state = 2;
			return flash_linger(wsi);
		}
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols flash_protocol = {
    .name = "sio-flash",
    .callback = flash_callback,
    .per_session_data_size = sizeof(struct flash_conn),
};

static const struct lws_protocols flash_policy_protocol = {
    .name = "sio-flash-policy",
    .callback = flash_policy_callback,
    .per_session_data_size = sizeof(struct flash_policy_conn),
};

const struct lws_protocols *
wsd_flash_protocol(void)
{
	return &flash_protocol;
}

const struct lws_protocols *
wsd_policy_protocol(void)
{
	return &flash_policy_protocol;
}
