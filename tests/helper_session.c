/*
 * helper_session.c: a second process for the session tests.
 * `helper_session end DB SID LOG` ends session SID with an application
 * whose on_close appends one line to LOG, so the test can count how many
 * processes ran on_close.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "session.h"
#include "store.h"

static const char *close_log;

static void
helper_close(struct sio_conn *c)
{
	char line[128];
	int fd = open(close_log, O_WRONLY | O_APPEND | O_CREAT, 0600);
	int n = snprintf(line, sizeof(line), "%d closed %s\n", (int)getpid(),
	                 sio_conn_sid(c));

	if (fd >= 0) {
		if (write(fd, line, (size_t)n) != n)
			perror("helper_session: write");
		close(fd);
	}
}

static const struct sio_app helper_root = {.endpoint = "",
                                           .on_close = helper_close};
static const struct sio_app *const helper_apps[] = {&helper_root, NULL};
static const struct sio_plugin helper_plugin = {SIO_API_VERSION, "helper",
                                                helper_apps};

int
main(int argc, char **argv)
{
	struct sio_store_opts opts = {0};
	struct sio_session_ctx x = {0};
	struct sio_config cfg;
	char err[SIO_ERR_LEN];
	int rc;

	if (argc != 5 || strcmp(argv[1], "end") != 0) {
		fprintf(stderr, "usage: helper_session end DB SID LOG\n");
		return 2;
	}
	close_log = argv[4];
	sio_config_defaults(&cfg);
	x.store = sio_store_open(argv[2], &opts, err);
	if (x.store == NULL) {
		fprintf(stderr, "helper_session: %s\n", err);
		return 1;
	}
	x.plugin = &helper_plugin;
	x.cfg = &cfg;
	rc = sio_session_end(&x, argv[3], "race", sio_session_now());
	sio_store_close(x.store);
	return rc < 0 ? 1 : 0;
}
