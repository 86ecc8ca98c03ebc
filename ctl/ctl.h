/*
 * ctl.h: sioctl, the operator's command-line tool over the store that
 * sio-gateway and sio-wsd share. main.c reads the configuration, opens the
 * store and dispatches; view.c lists and shows sessions and stats; queue.c
 * sends messages and events; end.c kicks sessions and cleans up. Whatever
 * queues packets goes through the store, which rings the holders' doorbells
 * after the commit, so connected clients get it at once.
 */
#ifndef CTL_H
#define CTL_H

#include "config.h"
#include "session.h"
#include "siogate.h"

/* Exit statuses, as every siogate program's (sysexits.h): done; the
 * target or the store failed; bad usage or JSON; a configuration error. */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 64  /* EX_USAGE */
#define CTL_EXIT_CONFIG 78 /* EX_CONFIG */

struct ctl {
	struct sio_config cfg;
	const struct sio_plugin *plugin;
	struct sio_session_ctx x; /* x.store is the open store */
	long long now;
};

/* A subcommand: argv[0] is its name; returns a CTL_EXIT_* status. */
int ctl_list(struct ctl *c, int argc, char **argv);
int ctl_show(struct ctl *c, int argc, char **argv);
int ctl_stats(struct ctl *c, int argc, char **argv);
int ctl_processes(struct ctl *c, int argc, char **argv);
int ctl_send(struct ctl *c, int argc, char **argv);
int ctl_emit(struct ctl *c, int argc, char **argv);
int ctl_kick(struct ctl *c, int argc, char **argv);
int ctl_cleanup(struct ctl *c, int argc, char **argv);

/* Prints "sioctl: <message>" to stderr; returns status, for
 * `return ctl_fail(CTL_EXIT_FAIL, ...)`. */
int ctl_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints the usage to stderr; returns CTL_EXIT_USAGE. */
int ctl_usage(void);

/*
 * Checks that sid names a session: CTL_EXIT_OK when it exists and is not
 * closed (or closed_ok), else prints why and returns CTL_EXIT_FAIL.
 */
int ctl_session_check(struct ctl *c, const char *sid, int closed_ok);

#endif
