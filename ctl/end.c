/*
 * end.c: sioctl kick and cleanup, the subcommands that end sessions. Both
 * go through the session engine, so the application's on_close runs here
 * (in sioctl's process, on the configured app) and `0::` is queued for the
 * client, exactly as when a server ends a session.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "store.h"

int
ctl_kick(struct ctl *c, int argc, char **argv)
{
	int rc;

	if (argc != 2) /* a sid may begin with '-': no options here */
		return ctl_usage();
	if ((rc = ctl_session_check(c, argv[1], 1)) != CTL_EXIT_OK)
		return rc;
	rc = sio_session_end(&c->x, argv[1], "kicked", c->now);
	if (rc < 0)
		return ctl_fail(CTL_EXIT_FAIL, "%s: %s", argv[1],
		                sio_store_errmsg(c->x.store));
	if (rc == 0)
		printf("session %s was already closed\n", argv[1]);
	else
		printf("ended session %s\n", argv[1]);
	return CTL_EXIT_OK;
}

int
ctl_cleanup(struct ctl *c, int argc, char **argv)
{
	int all = 0, ended, deleted;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--all") != 0))
		return ctl_usage();
	all = argc == 2;
	/* The servers' own timer round: heartbeats, timeouts, old closed. */
	ended = sio_session_sweep(&c->x, c->now);
	if (ended < 0)
		return ctl_fail(CTL_EXIT_FAIL, "sweep: %s",
		                sio_store_errmsg(c->x.store));
	/* Then the closed sessions the sweep keeps for their final packets:
	 * those whose packets went out, or (--all) every one. */
	deleted = all ? sio_store_cleanup(c->x.store, LLONG_MAX)
	              : sio_store_cleanup_drained(c->x.store);
	if (deleted < 0)
		return ctl_fail(CTL_EXIT_FAIL, "cleanup: %s",
		                sio_store_errmsg(c->x.store));
	printf("ended %d timed-out session%s, deleted %d closed session%s\n",
	       ended, ended == 1 ? "" : "s", deleted, deleted == 1 ? "" : "s");
	return CTL_EXIT_OK;
}
