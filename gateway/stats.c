/*
 * stats.c: the operator's answers of sio-gateway, GET /<resource>/stats
 * (JSON) and /<resource>/metrics (Prometheus text), from the store's
 * counters.
 */
#include <string.h>

#include "serve.h"
#include "stats.h"

/* GET /<resource>/stats (JSON) or /metrics (Prometheus text): 404 when
 * stats are off, 403 unless REMOTE_ADDR is in stats_allow. */
void
serve_stats(struct serve *s, const char *method, int metrics)
{
	const struct sio_config *cfg = s->x->cfg;
	struct sio_store_stats st;
	struct sio_buf b;
	int rc;

	s->origin = NULL; /* no CORS for the operator's pages */
	if (!cfg->stats) {
		serve_text(s, 404, "Not found.");
		return;
	}
	if (!sio_config_stats_allowed(cfg, gw_req_client(s->r))) {
		serve_text(s, 403, "Forbidden.");
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		serve_text(s, 405, "method not allowed");
		return;
	}
	if (serve_store(s) != SIO_OK) {
		serve_text(s, 503, "store unavailable");
		return;
	}
	if (sio_store_stats(s->x->store, &st) != SIO_OK) {
		gw_log(SIO_LOG_ERROR, "stats: %s",
		       sio_store_errmsg(s->x->store));
		serve_text(s, 500, "stats unavailable");
		return;
	}
	sio_buf_init(&b);
	rc = metrics ? sio_stats_prometheus(&b, &st) : sio_stats_json(&b, &st);
	if (rc == SIO_OK)
		serve_respond(s, 200,
		              metrics
		                  ? "text/plain; version=0.0.4; charset=utf-8"
		                  : "application/json",
		              b.p, b.len);
	else
		serve_text(s, 500, "out of memory");
	sio_buf_cleanup(&b);
}
