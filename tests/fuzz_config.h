/*
 * fuzz_config.h: the fuzz target over the configuration file and every
 * value parser behind it. The input is a whole file (read from a memfd
 * through its /proc path, as sio_config_load() reads any file); a file
 * that loads must give a configuration inside every documented bound,
 * whose text values read back the same and whose origins sio-wsd can turn
 * into a Flash policy. A refusal names the file. Included by fuzz_body.h
 * only.
 */
#ifndef SIO_FUZZ_CONFIG_H
#define SIO_FUZZ_CONFIG_H

#include <sys/mman.h>
#include <unistd.h>

/* The file the target writes each input to, created once. */
static int
fuzz_config_file(char *path, size_t size)
{
	static int fd = -1;

	if (fd < 0)
		fd = memfd_create("fuzz-config", 0);
	FUZZ_CHECK(fd >= 0);
	snprintf(path, size, "/proc/self/fd/%d", fd);
	return fd;
}

/* A text field: NUL-terminated inside its array, not empty. */
static void
fuzz_config_text(const char *s, size_t size)
{
	FUZZ_CHECK(memchr(s, '\0', size) != NULL && s[0] != '\0');
}

/* Setting key to the value it holds again is accepted, and changes
 * nothing (the parsers are idempotent on what they accepted). */
static void
fuzz_config_again(const struct sio_config *c, const char *key,
                  const char *value)
{
	struct sio_config d;
	char err[SIO_ERR_LEN], copy[SIO_CONFIG_PATH_MAX];

	memcpy(&d, c, sizeof(d));
	snprintf(copy, sizeof(copy), "%s", value);
	FUZZ_CHECK(sio_config_set(&d, key, copy, err) == SIO_OK);
	FUZZ_CHECK(memcmp(&d, c, sizeof(d)) == 0);
}

/* Every bound of docs/configuration.md, checked on a loaded file. */
static void
fuzz_config_valid(const struct sio_config *c)
{
	struct sio_buf b;
	char num[32];
	int k, j;

	fuzz_config_text(c->database, sizeof(c->database));
	fuzz_config_text(c->run_dir, sizeof(c->run_dir));
	fuzz_config_text(c->app, sizeof(c->app));
	fuzz_config_text(c->resource, sizeof(c->resource));
	fuzz_config_text(c->origins, sizeof(c->origins));
	fuzz_config_text(c->stats_allow, sizeof(c->stats_allow));
	FUZZ_CHECK(strspn(c->resource, "abcdefghijklmnopqrstuvwxyz"
	                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                               "0123456789._-") == strlen(c->resource));
	FUZZ_CHECK(strcmp(c->resource, ".") != 0 &&
	           strcmp(c->resource, "..") != 0);
	FUZZ_CHECK(c->ntransports >= 1 &&
	           c->ntransports <= SIO_TRANSPORT_COUNT);
	for (k = 0; k < c->ntransports; k++) {
		FUZZ_CHECK((int)c->transports[k] >= 0 &&
		           c->transports[k] < SIO_TRANSPORT_COUNT);
		for (j = 0; j < k; j++)
			FUZZ_CHECK(c->transports[j] != c->transports[k]);
	}
	FUZZ_CHECK(c->heartbeat_interval >= 1 &&
	           c->heartbeat_interval < c->heartbeat_timeout &&
	           c->heartbeat_timeout <= 86400);
	FUZZ_CHECK(c->polling_duration >= 1 &&
	           c->polling_duration < c->close_timeout &&
	           c->close_timeout <= 86400);
	FUZZ_CHECK(c->max_packet >= 1 && c->max_packet <= c->max_payload);
	FUZZ_CHECK(c->max_payload_packets >= 1 && c->max_queue >= 1);
	FUZZ_CHECK(c->flash_policy_port >= 0 && c->flash_policy_port <= 65535);
	FUZZ_CHECK(c->threads >= 1 && c->threads <= 4096);
	FUZZ_CHECK(c->max_websockets >= 1 && c->max_websockets <= 1 << 24);
	FUZZ_CHECK((c->bind_address == 0 || c->bind_address == 1) &&
	           (c->db_group == 0 || c->db_group == 1) &&
	           (c->stats == 0 || c->stats == 1));
	FUZZ_CHECK(c->synchronous >= SIO_SYNC_OFF &&
	           c->synchronous <= SIO_SYNC_FULL);
	FUZZ_CHECK(c->log_level >= SIO_LOG_ERROR &&
	           c->log_level <= SIO_LOG_DEBUG);
	fuzz_config_again(c, "resource", c->resource);
	fuzz_config_again(c, "origins", c->origins);
	fuzz_config_again(c, "stats_allow", c->stats_allow);
	snprintf(num, sizeof(num), "%zu", c->max_packet);
	fuzz_config_again(c, "max_packet", num);
	snprintf(num, sizeof(num), "%d", c->heartbeat_timeout);
	fuzz_config_again(c, "heartbeat_timeout", num);
	/* sio-wsd builds its policy file from the origins at start. */
	sio_buf_init(&b);
	FUZZ_CHECK(wsd_policy_encode(&b, c->origins, WSD_POLICY_PORT) ==
	           SIO_OK);
	sio_buf_cleanup(&b);
}

static void
fuzz_config(const uint8_t *data, size_t size)
{
	struct sio_config c;
	char path[64], err[SIO_ERR_LEN];
	int fd = fuzz_config_file(path, sizeof(path));

	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size);
	sio_config_defaults(&c);
	memset(err, 'x', sizeof(err));
	if (sio_config_load(&c, path, err) == SIO_OK) {
		fuzz_config_valid(&c);
		return;
	}
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 &&
	           err[strlen(path)] == ':');
}

#endif
