/*
 * userdb.h - who a user name is, asked of getent(1) in a child process
 * (userdb.c).
 *
 * Why not getpwnam(3) in obs itself: a name that /etc/passwd lacks goes on
 * to the NSS modules nsswitch.conf lists, and they stay loaded for the
 * life of the process (libnss_systemd: 320 KB resident, and its varlink
 * socket; an LDAP module: its connection). A collector that runs for weeks
 * keeps none of that, and a name service that does not answer costs it a
 * timeout, not a start that hangs.
 */
#ifndef OBS_USERDB_H
#define OBS_USERDB_H
#include <stddef.h>
#include <sys/types.h>

struct userdb_user {
	uid_t uid;
	gid_t gid;
	char name[64];
};

/* The first of names[0..n) the system knows (any of them may be absent).
 * 1: found, *out set; 0: none of them exists; -1: getent could not be run
 * (none installed, a name not a plain one); -2: it did not answer within
 * timeout_ms (killed). Names: at most 8. */
int userdb_first(const char *const *names, size_t n, struct userdb_user *out, int timeout_ms);

#endif
