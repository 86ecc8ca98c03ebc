/*
 * perm.h: whether a path siogate shares between its processes (the run
 * directory with its doorbells, the database) is safe from the machine's
 * other users. One who can replace a doorbell reads the session ids rung
 * to it; one who can write the database forges sessions and reads them.
 * The rule is OpenSSH's for authorized_keys (safe_path()): every step of
 * the path, not only its last, must be out of other users' reach.
 */
#ifndef SIO_PERM_H
#define SIO_PERM_H

#include <sys/stat.h>

/* Flags of sio_perm_path_safe(). */
#define SIO_PERM_DIR 0x1     /* the path names a directory, else a file */
#define SIO_PERM_SHARED 0x2  /* db_shared_group: see sio_perm_safe() */
#define SIO_PERM_MISSING 0x4 /* the end may not exist yet */

/*
 * SIO_OK when sb (of path, named `what` in messages: "run_dir",
 * "database") belongs to this user, or with shared_group to one of its
 * groups, and is writable by no other user: not by every user, nor by a
 * group this process is not in. Else SIO_ERR with err (may be NULL,
 * SIO_ERR_LEN bytes) saying which rule failed and `risk`, what another
 * user could do.
 */
int sio_perm_safe(const char *what, const char *path, const struct stat *sb,
                  int shared_group, const char *risk, char *err);

/*
 * SIO_OK when no other user can change what path names. It is resolved
 * from / (a relative path from the working directory), one component at
 * a time, without trusting the kernel to follow links: every symbolic
 * link met belongs to root or this user, and its target is walked the
 * same way; every directory met belongs to root or this user and is
 * writable by no other user (sio_perm_safe()'s sense), except that one
 * with the sticky bit may be (/tmp: what we own in it stays ours) unless
 * it is the last. The end passes sio_perm_safe(); with SIO_PERM_SHARED,
 * the end and a file's directory may belong to another user with a group
 * of ours. With SIO_PERM_MISSING an end that does not exist yet passes
 * when the deepest directory that does is writable by no other user,
 * sticky or not. Else SIO_ERR with err (may be NULL) naming the
 * component, the rule and `risk`.
 */
int sio_perm_path_safe(const char *what, const char *path, int flags,
                       const char *risk, char *err);

#endif
