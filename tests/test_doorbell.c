/*
 * test_doorbell.c: the CUnit suite for common/doorbell.c, and for the
 * store and the doorbell together: a commit rings the holder of every
 * session that received packets, a rollback rings nobody. Each test works
 * in a fresh temporary directory with a real socket and database.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cu.h"
#include "doorbell.h"
#include "session.h"
#include "store.h"

#define T0 1700000000000LL

static char *tmp;     /* per-test directory */
static char *run_dir; /* tmp/run (not created: open must make it) */
static int sender = -1;

static void
setup(void)
{
	tmp = cu_tmpdir();
	if (tmp == NULL || asprintf(&run_dir, "%s/var/run", tmp) < 0)
		run_dir = NULL;
	sender = sio_doorbell_sender();
}

static void
teardown(void)
{
	if (sender >= 0)
		close(sender);
	sender = -1;
	cu_rmtree(tmp);
	free(tmp);
	free(run_dir);
	tmp = run_dir = NULL;
}

static struct sio_doorbell *
open_bell(const char *name, int shared)
{
	char err[SIO_ERR_LEN] = "";
	struct sio_doorbell *d = sio_doorbell_open(run_dir, name, shared, err);

	if (d == NULL)
		fprintf(stderr, "sio_doorbell_open: %s\n", err);
	return d;
}

static int
mode_of(const char *path)
{
	struct stat sb;

	return stat(path, &sb) < 0 ? -1 : (int)(sb.st_mode & 07777);
}

static char *
bell_path(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s.bell", run_dir, name) < 0)
		return NULL;
	return p;
}

static void
test_ring_received(void)
{
	struct sio_doorbell *d = open_bell("wsd", 0);
	struct pollfd pfd;
	char sid[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_FATAL(sender >= 0);
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, sid, sizeof(sid)), SIO_ABSENT);
	CU_ASSERT_EQUAL(
	    sio_doorbell_ring(sender, run_dir, "wsd", "abcdefghijklmnopqrstuv"),
	    SIO_OK);
	pfd.fd = sio_doorbell_fd(d);
	pfd.events = POLLIN;
	CU_ASSERT_EQUAL(poll(&pfd, 1, 5000), 1);
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, sid, sizeof(sid)), SIO_OK);
	CU_ASSERT_STRING_EQUAL(sid, "abcdefghijklmnopqrstuv");
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, sid, sizeof(sid)), SIO_ABSENT);
	/* a short buffer still gets a terminated prefix */
	CU_ASSERT_EQUAL(sio_doorbell_ring(sender, run_dir, "wsd", "abcdef"),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, sid, 4), SIO_OK);
	CU_ASSERT_STRING_EQUAL(sid, "abc");
	sio_doorbell_close(d);
}

/* Rings name about sid and says whether d received it (within 5 s). */
static int
rung(struct sio_doorbell *d, const char *name, const char *sid)
{
	struct pollfd pfd = {.fd = sio_doorbell_fd(d), .events = POLLIN};
	char got[64];

	return sio_doorbell_ring(sender, run_dir, name, sid) == SIO_OK &&
	       poll(&pfd, 1, 5000) == 1 &&
	       sio_doorbell_recv(d, got, sizeof(got)) == SIO_OK &&
	       strcmp(got, sid) == 0;
}

static void
test_check_rebinds(void)
{
	struct sio_doorbell *d = open_bell("gw", 1);
	char err[SIO_ERR_LEN] = "", *path = NULL;
	int fd;
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_FATAL(asprintf(&path, "%s/gw.bell", run_dir) > 0);
	fd = sio_doorbell_fd(d);
	CU_ASSERT_EQUAL(sio_doorbell_check(d, err), SIO_OK);
	/* removed: rings go nowhere until the check binds it again */
	CU_ASSERT_EQUAL(unlink(path), 0);
	CU_ASSERT_EQUAL(sio_doorbell_ring(sender, run_dir, "gw", "a"),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_doorbell_check(d, err), SIO_ABSENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "removed"));
	CU_ASSERT_EQUAL(sio_doorbell_fd(d), fd);
	CU_ASSERT_EQUAL(mode_of(path), 0660);
	CU_ASSERT(rung(d, "gw", "after-removed"));
	CU_ASSERT_EQUAL(sio_doorbell_check(d, err), SIO_OK);
	/* replaced by a regular file */
	CU_ASSERT_EQUAL(unlink(path), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(path, "w"));
	fclose(f);
	CU_ASSERT_EQUAL(sio_doorbell_check(d, err), SIO_ABSENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "replaced"));
	CU_ASSERT(rung(d, "gw", "after-replaced"));
	/* the whole run directory gone */
	CU_ASSERT_EQUAL(unlink(path), 0);
	CU_ASSERT_EQUAL(rmdir(run_dir), 0);
	CU_ASSERT_EQUAL(sio_doorbell_check(d, err), SIO_ABSENT);
	CU_ASSERT_EQUAL(mode_of(run_dir), 0770);
	CU_ASSERT(rung(d, "gw", "after-rmdir"));
	sio_doorbell_close(d);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	free(path);
}

static void
test_ring_missing(void)
{
	CU_ASSERT_EQUAL(sio_doorbell_ring(sender, run_dir, "nobody", "x"),
	                SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_doorbell_ring(sender, "/nonexistent-dir", "x", "x"),
	                SIO_ABSENT);
}

static void
test_full_queue(void)
{
	struct sio_doorbell *d = open_bell("busy", 0);
	char sid[64];
	int i, ok = 0, again = 0, other = 0, rc, got = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	for (i = 0; i < 10000; i++) {
		rc = sio_doorbell_ring(sender, run_dir, "busy",
		                       "abcdefghijklmnopqrstuv");
		ok += rc == SIO_OK;
		again += rc == SIO_FULL;
		other += rc != SIO_OK && rc != SIO_FULL;
	}
	CU_ASSERT(ok > 0);
	CU_ASSERT(again > 0);
	CU_ASSERT_EQUAL(other, 0);
	while (sio_doorbell_recv(d, sid, sizeof(sid)) == SIO_OK)
		got++;
	CU_ASSERT_EQUAL(got, ok);
	sio_doorbell_close(d);
}

static void
test_modes(void)
{
	struct sio_doorbell *d = open_bell("wsd", 0), *s;
	char *path = bell_path("wsd"), *shared_dir;
	mode_t old;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(mode_of(run_dir), 0700);
	CU_ASSERT_EQUAL(mode_of(path), 0600);
	sio_doorbell_close(d);
	free(path);
	/* shared: 0770 and 0660 even under a umask that takes group bits */
	free(run_dir);
	CU_ASSERT_FATAL(asprintf(&shared_dir, "%s/shared", tmp) > 0);
	run_dir = shared_dir;
	old = umask(077);
	s = open_bell("gw", 1);
	umask(old);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	path = bell_path("gw");
	CU_ASSERT_EQUAL(mode_of(run_dir), 0770);
	CU_ASSERT_EQUAL(mode_of(path), 0660);
	free(path);
	sio_doorbell_close(s);
}

/* A run directory another user can write to, or another user's, is
 * refused with a message that says so; a group one with shared_group. */
static void
test_unsafe_run_dir(void)
{
	struct sio_doorbell *d = open_bell("wsd", 0);
	char err[SIO_ERR_LEN] = "";

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	sio_doorbell_close(d);
	CU_ASSERT_EQUAL_FATAL(chmod(run_dir, 0777), 0);
	CU_ASSERT_PTR_NULL(sio_doorbell_open(run_dir, "wsd", 0, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "writable by every user"));
	CU_ASSERT_PTR_NULL(sio_doorbell_open(run_dir, "wsd", 1, err));
	CU_ASSERT_EQUAL_FATAL(chmod(run_dir, 0770), 0);
	d = sio_doorbell_open(run_dir, "wsd", 1, err);
	CU_ASSERT_PTR_NOT_NULL(d);
	sio_doorbell_close(d);
	if (geteuid() != 0)
		return; /* giving the directory away takes root */
	CU_ASSERT_EQUAL_FATAL(chown(run_dir, 65534, 65534), 0);
	CU_ASSERT_PTR_NULL(sio_doorbell_open(run_dir, "wsd", 0, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "belongs to uid 65534"));
	CU_ASSERT_PTR_NULL(sio_doorbell_open(run_dir, "wsd", 1, err));
	/* shared_group: another user's directory of one of our groups */
	CU_ASSERT_EQUAL_FATAL(chown(run_dir, 65534, getegid()), 0);
	CU_ASSERT_PTR_NULL(sio_doorbell_open(run_dir, "wsd", 0, err));
	d = sio_doorbell_open(run_dir, "wsd", 1, err);
	CU_ASSERT_PTR_NOT_NULL(d);
	sio_doorbell_close(d);
}

/*
 * The review's attack: run_dir a link in a sticky directory, owned by
 * another user, to a directory of ours. The link's owner can point it
 * elsewhere at any time and receive the rings: refused. So is a run_dir
 * under a directory another user can write, which is not even made.
 */
static void
test_run_dir_path(void)
{
	char *sticky, *link, *open_dir, *under, err[SIO_ERR_LEN] = "";
	char sid[8];
	struct sio_doorbell *d;
	struct stat sb;

	CU_ASSERT_FATAL(asprintf(&sticky, "%s/tmp", tmp) > 0);
	CU_ASSERT_FATAL(asprintf(&link, "%s/tmp/runlink", tmp) > 0);
	CU_ASSERT_FATAL(asprintf(&open_dir, "%s/open", tmp) > 0);
	CU_ASSERT_FATAL(asprintf(&under, "%s/open/run", tmp) > 0);
	CU_ASSERT_EQUAL_FATAL(mkdir(sticky, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(chmod(sticky, 01777), 0);
	CU_ASSERT_EQUAL_FATAL(mkdir(open_dir, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(chmod(open_dir, 0777), 0);
	CU_ASSERT_EQUAL(sio_doorbell_open(under, "wsd", 0, err), NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "writable by every user"));
	CU_ASSERT_EQUAL(stat(under, &sb), -1);
	/* the link, ours: accepted, and rings reach our bell through it */
	d = open_bell("gw", 0); /* makes run_dir */
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	sio_doorbell_close(d);
	CU_ASSERT_EQUAL_FATAL(symlink(run_dir, link), 0);
	d = sio_doorbell_open(link, "wsd", 0, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(sio_doorbell_ring(sender, link, "wsd", "s1"), SIO_OK);
	/* a local datagram is queued by the time sendto returns */
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, sid, sizeof(sid)), SIO_OK);
	CU_ASSERT_STRING_EQUAL(sid, "s1");
	sio_doorbell_close(d);
	if (geteuid() == 0) { /* giving the link away takes root */
		CU_ASSERT_EQUAL_FATAL(lchown(link, 65534, 65534), 0);
		CU_ASSERT_PTR_NULL(sio_doorbell_open(link, "wsd", 0, err));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "symbolic link"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "belongs to uid 65534"));
		CU_ASSERT_PTR_NULL(sio_doorbell_open(link, "wsd", 1, err));
	}
	free(sticky);
	free(link);
	free(open_dir);
	free(under);
}

static void
test_close_removes(void)
{
	struct sio_doorbell *d = open_bell("wsd", 0);
	char *path = bell_path("wsd");
	struct stat sb;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(stat(path, &sb), 0);
	CU_ASSERT(S_ISSOCK(sb.st_mode));
	sio_doorbell_close(d);
	CU_ASSERT_EQUAL(stat(path, &sb), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	free(path);
}

static void
test_stale_replaced(void)
{
	struct sio_doorbell *a = open_bell("wsd", 0), *b;
	char sid[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	b = open_bell("wsd", 0); /* a's file looks stale to b */
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	sio_doorbell_close(a); /* must not remove b's file */
	CU_ASSERT_EQUAL(sio_doorbell_ring(sender, run_dir, "wsd", "x"), SIO_OK);
	CU_ASSERT_EQUAL(sio_doorbell_recv(b, sid, sizeof(sid)), SIO_OK);
	sio_doorbell_close(b);
}

static void
test_path_too_long(void)
{
	char name[200], err[SIO_ERR_LEN] = "";

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CU_ASSERT_PTR_NULL(sio_doorbell_open(run_dir, name, 0, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "too long"));
	CU_ASSERT_EQUAL(sio_doorbell_ring(sender, run_dir, name, "x"), SIO_ERR);
	CU_ASSERT_PTR_NULL(sio_doorbell_open(run_dir, "a/b", 0, err));
}

/* --- with the store ------------------------------------------------------ */

static struct sio_store *
open_store(void)
{
	struct sio_store_opts opts = {.run_dir = run_dir};
	char err[SIO_ERR_LEN] = "", *path;
	struct sio_store *st;

	if (asprintf(&path, "%s/test.db", tmp) < 0)
		return NULL;
	st = sio_store_open(path, &opts, err);
	if (st == NULL)
		fprintf(stderr, "sio_store_open: %s\n", err);
	free(path);
	return st;
}

static void
test_commit_rings(void)
{
	struct sio_doorbell *d = open_bell("wsd1", 0);
	struct sio_store *st = open_store();
	char sid[SIO_SID_LEN + 1], got[64];
	int changed;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(sio_store_process_register(st, "wsd1", 1, T0), SIO_OK);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_new(st, NULL, T0, sid), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_WEBSOCKET,
	                                   "wsd1", 1, T0, &changed),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, "3:::a", 5, 0, 0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, "3:::b", 5, 0, 0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, got, sizeof(got)), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, got, sizeof(got)), SIO_OK);
	CU_ASSERT_STRING_EQUAL(got, sid);
	/* once per sid, however many packets */
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, got, sizeof(got)), SIO_ABSENT);
	/* a call outside a transaction rings on its own commit */
	CU_ASSERT_EQUAL(
	    sio_store_outbox_broadcast(st, "", NULL, NULL, "3:::c", 5, 0, 0),
	    1);
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, got, sizeof(got)), SIO_OK);
	CU_ASSERT_STRING_EQUAL(got, sid);
	sio_store_close(st);
	sio_doorbell_close(d);
}

static void
test_rollback_silent(void)
{
	struct sio_doorbell *d = open_bell("wsd1", 0);
	struct sio_store *st = open_store();
	char sid[SIO_SID_LEN + 1], got[64];
	int changed;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_new(st, NULL, T0, sid), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_WEBSOCKET,
	                                   "wsd1", 1, T0, &changed),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_outbox_put(st, sid, "3:::a", 5, 0, 0),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_store_rollback(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, got, sizeof(got)), SIO_ABSENT);
	/* nor does a later, empty commit ring what was rolled back */
	CU_ASSERT_EQUAL(sio_store_begin(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_commit(st), SIO_OK);
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, got, sizeof(got)), SIO_ABSENT);
	sio_store_close(st);
	sio_doorbell_close(d);
}

static void
test_superseded_and_ended_ring(void)
{
	struct sio_doorbell *d = open_bell("wsd1", 0);
	struct sio_store *st = open_store();
	char sid[SIO_SID_LEN + 1], got[64];
	int changed;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(sio_store_session_new(st, NULL, T0, sid), SIO_OK);
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_WEBSOCKET,
	                                   "wsd1", 1, T0, &changed),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, got, sizeof(got)), SIO_ABSENT);
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_XHR_POLLING,
	                                   "gw", 1, T0, &changed),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, got, sizeof(got)), SIO_OK);
	CU_ASSERT_STRING_EQUAL(got, sid);
	CU_ASSERT_EQUAL(sio_session_attach(st, sid, SIO_TRANSPORT_WEBSOCKET,
	                                   "wsd1", 2, T0, &changed),
	                SIO_OK);
	CU_ASSERT_EQUAL(sio_session_claim_end(st, sid, "bye", T0), 1);
	CU_ASSERT_EQUAL(sio_doorbell_recv(d, got, sizeof(got)), SIO_OK);
	CU_ASSERT_STRING_EQUAL(got, sid);
	sio_store_close(st);
	sio_doorbell_close(d);
}

/* tick says whether others wrote since the last tick: not at the first,
 * yes after another connection's commit, not after its own. */
static void
test_tick(void)
{
	struct sio_store *a = open_store(), *b = open_store();

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(sio_store_tick(a, T0), 0);
	CU_ASSERT_EQUAL(sio_store_counter_add(b, "x", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_tick(a, T0 + 1000), 1);
	CU_ASSERT_EQUAL(sio_store_tick(a, T0 + 2000), 0);
	/* its own commits do not count */
	CU_ASSERT_EQUAL(sio_store_counter_add(a, "x", 1), SIO_OK);
	CU_ASSERT_EQUAL(sio_store_tick(a, T0 + 3000), 0);
	sio_store_close(a);
	sio_store_close(b);
}

/* The bell of a process that is gone: its socket file goes, a file of
 * another kind under that name stays, and a missing one is no error. */
static void
test_remove_only_a_socket(void)
{
	struct sio_doorbell *d = open_bell("gone", 0);
	char *bell = bell_path("gone"), *plain = bell_path("plain");
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bell);
	CU_ASSERT_PTR_NOT_NULL_FATAL(plain);
	f = fopen(plain, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fclose(f);
	CU_ASSERT_EQUAL(sio_doorbell_remove(run_dir, "gone"), SIO_OK);
	CU_ASSERT_EQUAL(mode_of(bell), -1);
	CU_ASSERT_EQUAL(sio_doorbell_remove(run_dir, "gone"), SIO_OK);
	CU_ASSERT_EQUAL(sio_doorbell_remove(run_dir, "plain"), SIO_ERR);
	CU_ASSERT(mode_of(plain) >= 0);
	CU_ASSERT_EQUAL(sio_doorbell_remove(run_dir, "../x"), SIO_ERR);
	sio_doorbell_close(d);
	free(bell);
	free(plain);
}

static const struct cu_test tests[] = {
    {"a ring is received with the sid", test_ring_received},
    {"ringing a missing bell returns SIO_ABSENT", test_ring_missing},
    {"a bell removed or replaced, even its directory, is bound again by check",
     test_check_rebinds},
    {"a full bell never blocks the ringer and returns SIO_FULL",
     test_full_queue},
    {"the run directory is 0700 and the bell 0600, or 0770/0660 shared",
     test_modes},
    {"a run directory others can write to or another user's is refused",
     test_unsafe_run_dir},
    {"a run directory through another user's link or under a directory "
     "others can write is refused",
     test_run_dir_path},
    {"close removes the socket file", test_close_removes},
    {"remove takes a gone process's socket file, never another file",
     test_remove_only_a_socket},
    {"a stale bell is replaced and its owner's close spares the new one",
     test_stale_replaced},
    {"a path too long for a socket address is a clear error",
     test_path_too_long},
    {"commit rings the holder of a session that got packets",
     test_commit_rings},
    {"rollback rings nobody", test_rollback_silent},
    {"a superseded holder and the holder of an ended session are rung",
     test_superseded_and_ended_ring},
    {"tick says when another connection committed", test_tick},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("doorbell", tests, setup, teardown);
}
