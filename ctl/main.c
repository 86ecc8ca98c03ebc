/*
 * main.c: sioctl's entry point: `sioctl [-c FILE] COMMAND ...`. Reads the
 * configuration every siogate program reads (and loads its app, whose
 * on_close a kick runs), opens the store, runs one subcommand, closes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "plugin.h"
#include "store.h"

static const struct {
	const char *name;
	int (*run)(struct ctl *c, int argc, char **argv);
} ctl_commands[] = {
    {"list", ctl_list},       {"show", ctl_show},
    {"send", ctl_send},       {"emit", ctl_emit},
    {"kick", ctl_kick},       {"stats", ctl_stats},
    {"cleanup", ctl_cleanup}, {"processes", ctl_processes},
};

int
ctl_fail(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("sioctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

static void
ctl_usage_to(FILE *out)
{
	fputs(
	    "usage: sioctl [-c FILE] COMMAND ...\n"
	    "       sioctl --help | --version\n"
	    "  list [--json]                the sessions, one line each\n"
	    "  show [--json] SID            one session and its queued "
	    "packets\n"
	    "  send TARGET TEXT             queue a message (3::EP:TEXT)\n"
	    "  emit TARGET NAME [JSON...]   queue an event, one JSON value per "
	    "argument\n"
	    "  kick SID                     end a session: on_close, then 0::\n"
	    "  stats [--json]               counters, sessions by state and "
	    "transport\n"
	    "  processes [--json]           the servers' processes, of every "
	    "host\n"
	    "  cleanup [--all]              end timed-out sessions, delete "
	    "closed ones\n"
	    "                               (--all: even with packets left)\n"
	    "TARGET: [--endpoint EP] SID, [--endpoint EP] --room ROOM, or\n"
	    "--endpoint EP alone (every session on EP); EP defaults to the "
	    "root.\n"
	    "With --endpoint alone, an operand shaped like a session id is "
	    "one;\n"
	    "--sid SID says so explicitly. FILE defaults to $SIOGATE_CONF,\n"
	    "else " SIO_CONFIG_DEFAULT ".\n"
	    "Exit status: 0 done; 1 no such session, or a store error; 64 bad "
	    "usage or JSON;\n"
	    "  78 configuration error (unreadable file, bad or out-of-range "
	    "setting, app).\n",
	    out);
}

int
ctl_usage(void)
{
	ctl_usage_to(stderr);
	return CTL_EXIT_USAGE;
}

int
ctl_session_check(struct ctl *c, const char *sid, int closed_ok)
{
	struct sio_store_session s;
	int rc = sio_store_session_get(c->x.store, sid, &s);

	if (rc == SIO_ABSENT)
		return ctl_fail(CTL_EXIT_FAIL, "no session '%s'", sid);
	if (rc != SIO_OK)
		return ctl_fail(CTL_EXIT_FAIL, "%s",
		                sio_store_errmsg(c->x.store));
	sio_store_session_cleanup(&s);
	if (s.state == SIO_SESSION_CLOSED && !closed_ok)
		return ctl_fail(CTL_EXIT_FAIL, "session %s is closed", sid);
	return CTL_EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct ctl c = {0};
	const char *conf = NULL;
	char err[SIO_ERR_LEN];
	int i = 1, status = -1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 ||
		         strcmp(argv[i], "--help") == 0) {
			ctl_usage_to(stdout);
			return CTL_EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("sioctl siogate %s\n", SIOGATE_VERSION);
			return CTL_EXIT_OK;
		} else {
			ctl_fail(CTL_EXIT_USAGE, "bad option '%s'", argv[i]);
			return ctl_usage();
		}
	}
	if (i == argc)
		return ctl_usage();
	for (size_t k = 0; k < sizeof(ctl_commands) / sizeof(ctl_commands[0]);
	     k++)
		if (strcmp(argv[i], ctl_commands[k].name) == 0)
			status = (int)k;
	if (status < 0) {
		ctl_fail(CTL_EXIT_USAGE, "unknown command '%s'", argv[i]);
		return ctl_usage();
	}
	if (sio_plugin_setup(conf, &c.cfg, &c.plugin, err) != SIO_OK)
		return ctl_fail(CTL_EXIT_CONFIG, "%s", err);
	c.x.store = sio_store_open_config(&c.cfg, SIO_STORE_PLAIN, err);
	if (c.x.store == NULL)
		return ctl_fail(CTL_EXIT_FAIL, "%s", err);
	c.x.plugin = c.plugin;
	c.x.cfg = &c.cfg;
	c.now = sio_session_now();
	status = ctl_commands[status].run(&c, argc - i, argv + i);
	sio_store_close(c.x.store);
	return status;
}
