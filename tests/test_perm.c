/*
 * test_perm.c: the CUnit suite for common/perm.c, the rule that keeps the
 * run directory and the database out of other users' reach. Each test
 * builds a small tree in a fresh temporary directory; the cases with
 * another user's files take root (chown to uid 65534) and are skipped,
 * with a note, without it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cu.h"
#include "perm.h"
#include "siogate.h"

#define NOBODY 65534

static char *tmp; /* per-test directory, 0700, this user's */

static void
setup(void)
{
	tmp = cu_tmpdir();
}

static void
teardown(void)
{
	cu_rmtree(tmp);
	free(tmp);
	tmp = NULL;
}

/* tmp/rel in a static buffer (one at a time). */
static const char *
at(const char *rel)
{
	static char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", tmp, rel);
	return buf;
}

static void
mkdir_mode(const char *rel, mode_t mode)
{
	CU_ASSERT_EQUAL_FATAL(mkdir(at(rel), mode), 0);
	CU_ASSERT_EQUAL_FATAL(chmod(at(rel), mode), 0);
}

static void
symlink_to(const char *target, const char *rel)
{
	char *t = strdup(target); /* target may be at()'s buffer */

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(symlink(t, at(rel)), 0);
	free(t);
}

/* sio_perm_path_safe() on tmp/rel: its result; err holds the message. */
static int
check(const char *rel, int flags, char *err)
{
	err[0] = '\0';
	return sio_perm_path_safe("run_dir", at(rel), flags, "RISK", err);
}

static int
as_root(void)
{
	if (geteuid() == 0)
		return 1;
	fprintf(stderr, "(skipped: giving files away takes root) ");
	return 0;
}

static void
test_own_tree(void)
{
	char err[SIO_ERR_LEN];

	mkdir_mode("run", 0700);
	symlink_to("run", "link");
	CU_ASSERT_EQUAL(check("run", SIO_PERM_DIR, err), SIO_OK);
	CU_ASSERT_EQUAL(check("link", SIO_PERM_DIR, err), SIO_OK);
	CU_ASSERT_EQUAL(check("link/../link/./", SIO_PERM_DIR, err), SIO_OK);
	CU_ASSERT_EQUAL(check("missing/run", SIO_PERM_DIR, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
	CU_ASSERT_EQUAL(
	    check("missing/run", SIO_PERM_DIR | SIO_PERM_MISSING, err), SIO_OK);
	symlink_to("loop", "loop");
	CU_ASSERT_EQUAL(check("loop", SIO_PERM_DIR, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Too many levels"));
	/* the end must be what was asked for */
	CU_ASSERT_EQUAL(check("run", 0, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not a regular file"));
	/* a relative path is walked from the working directory */
	CU_ASSERT_EQUAL(
	    sio_perm_path_safe("run_dir", ".", SIO_PERM_DIR, "R", err), SIO_OK);
}

static void
test_link_of_another_user(void)
{
	char err[SIO_ERR_LEN];

	if (!as_root())
		return;
	mkdir_mode("run", 0700);
	symlink_to(at("run"), "link");
	CU_ASSERT_EQUAL_FATAL(lchown(at("link"), NOBODY, NOBODY), 0);
	CU_ASSERT_EQUAL(check("link", SIO_PERM_DIR, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "symbolic link"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "belongs to uid 65534"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "refused, RISK"));
	/* in the middle of the path, or missing after it, as well */
	CU_ASSERT_EQUAL(check("link/sub", SIO_PERM_DIR | SIO_PERM_MISSING, err),
	                SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "belongs to uid 65534"));
	/* a link of ours whose target passes through theirs */
	symlink_to("link/.", "mine");
	CU_ASSERT_EQUAL(check("mine", SIO_PERM_DIR, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "belongs to uid 65534"));
	CU_ASSERT_EQUAL_FATAL(lchown(at("link"), 0, 0), 0);
	CU_ASSERT_EQUAL(check("mine", SIO_PERM_DIR, err), SIO_OK);
}

static void
test_directory_of_another_user(void)
{
	char err[SIO_ERR_LEN];

	if (!as_root())
		return;
	mkdir_mode("theirs", 0755);
	mkdir_mode("theirs/run", 0700);
	CU_ASSERT_EQUAL_FATAL(chown(at("theirs"), NOBODY, NOBODY), 0);
	CU_ASSERT_EQUAL(check("theirs/run", SIO_PERM_DIR, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "directory"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "theirs belongs to uid 65534"));
	/* reached through a link of ours: the target is what counts */
	symlink_to("theirs/run", "link");
	CU_ASSERT_EQUAL(check("link", SIO_PERM_DIR, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "theirs belongs to uid 65534"));
	/* a group of ours is no excuse for a directory above the end */
	CU_ASSERT_EQUAL_FATAL(chown(at("theirs"), NOBODY, getegid()), 0);
	CU_ASSERT_EQUAL(
	    check("theirs/run", SIO_PERM_DIR | SIO_PERM_SHARED, err), SIO_ERR);
}

static void
test_writable_parent(void)
{
	char err[SIO_ERR_LEN];

	mkdir_mode("open", 0777);
	mkdir_mode("open/run", 0700);
	CU_ASSERT_EQUAL(check("open/run", SIO_PERM_DIR, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(err, "writable by every user without the sticky bit"));
	CU_ASSERT_EQUAL(check("open/new", SIO_PERM_DIR | SIO_PERM_MISSING, err),
	                SIO_ERR);
	if (!as_root())
		return;
	/* writable by a group this process is not in */
	CU_ASSERT_EQUAL_FATAL(chmod(at("open"), 0775), 0);
	CU_ASSERT_EQUAL_FATAL(chown(at("open"), 0, NOBODY), 0);
	CU_ASSERT_EQUAL(check("open/run", SIO_PERM_DIR, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "group 65534, which this user"));
}

static void
test_sticky_parent(void)
{
	char err[SIO_ERR_LEN];

	/* like /tmp: root's (here ours), 1777 */
	mkdir_mode("tmp", 01777);
	mkdir_mode("tmp/run", 0700);
	CU_ASSERT_EQUAL(check("tmp/run", SIO_PERM_DIR, err), SIO_OK);
	CU_ASSERT_EQUAL(
	    check("tmp/run/new", SIO_PERM_DIR | SIO_PERM_MISSING, err), SIO_OK);
	/* but not as the end, nor as the place the end would be made */
	CU_ASSERT_EQUAL(check("tmp", SIO_PERM_DIR, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "writable by every user"));
	CU_ASSERT_EQUAL(check("tmp/new", SIO_PERM_DIR | SIO_PERM_MISSING, err),
	                SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not exist"));
	/* nor for a file in it: others could make its -wal and -shm */
	CU_ASSERT_EQUAL(check("tmp/db", SIO_PERM_MISSING, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "which holds it"));
	/* the real temporary directory holds this suite's tree */
	CU_ASSERT_EQUAL(
	    sio_perm_path_safe("run_dir", tmp, SIO_PERM_DIR, "R", err), SIO_OK);
}

static void
test_shared_group(void)
{
	char err[SIO_ERR_LEN];
	FILE *f;

	if (!as_root())
		return;
	/* /var/lib/siogate as the siogate user's, group shared with us */
	mkdir_mode("lib", 02770);
	CU_ASSERT_EQUAL_FATAL(chown(at("lib"), NOBODY, getegid()), 0);
	f = fopen(at("lib/db"), "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(chmod(at("lib/db"), 0660), 0);
	CU_ASSERT_EQUAL_FATAL(chown(at("lib/db"), NOBODY, getegid()), 0);
	CU_ASSERT_EQUAL(check("lib/db", SIO_PERM_SHARED, err), SIO_OK);
	CU_ASSERT_EQUAL(
	    check("lib/new", SIO_PERM_SHARED | SIO_PERM_MISSING, err), SIO_OK);
	CU_ASSERT_EQUAL(check("lib", SIO_PERM_DIR | SIO_PERM_SHARED, err),
	                SIO_OK);
	CU_ASSERT_EQUAL(check("lib/db", 0, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "belongs to uid 65534"));
}

static const struct cu_test tests[] = {
    {"a tree of this user's passes, links and relative paths included",
     test_own_tree},
    {"a symbolic link of another user on the way is refused",
     test_link_of_another_user},
    {"a directory of another user on the way is refused, link or not",
     test_directory_of_another_user},
    {"a directory another user can write on the way is refused",
     test_writable_parent},
    {"a sticky directory like /tmp may be passed through, not ended in",
     test_sticky_parent},
    {"with a shared group, the end and a file's directory may be a "
     "group one",
     test_shared_group},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("perm", tests, setup, teardown);
}
