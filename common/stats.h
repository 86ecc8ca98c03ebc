/*
 * stats.h: formatting the server's counters (struct sio_store_stats, as
 * sio_store_stats() reads them) for the operator: JSON (the gateway's
 * /<resource>/stats, socket.io 0.9's names) and the Prometheus text
 * exposition format (/<resource>/metrics, siogate_* metrics). Pure
 * functions: no I/O, no store.
 */
#ifndef SIO_STATS_H
#define SIO_STATS_H

#include "buf.h"
#include "store.h"

/* Appends st as one JSON object and a newline to b (which may move).
 * SIO_OK, or SIO_ERR out of memory (b unchanged). */
int sio_stats_json(struct sio_buf *b, const struct sio_store_stats *st);
/* Appends st in the Prometheus text format (HELP, TYPE and a sample per
 * metric; siogate_sessions by transport) to b (which may move). SIO_OK,
 * or SIO_ERR out of memory (b unchanged). */
int sio_stats_prometheus(struct sio_buf *b, const struct sio_store_stats *st);

#endif
