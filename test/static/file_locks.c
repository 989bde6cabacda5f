/* File locks held across the checkpoint: after the restore each lock is
 * back on its file with its range and type, held by the same owner, and
 * still conflicts with other owners.
 *   A  flock LOCK_EX on fd a; a second description of A can't take
 *      LOCK_SH
 *   B  POSIX write lock on 10..29 and read lock on 100..EOF through fd b;
 *      seen with F_OFD_GETLK through another description, and with
 *      F_GETLK by a child forked after the restore
 *   C  OFD write lock on 5..9 through fd c and OFD read lock on 50..59
 *      through a second description c2: each conflicts with the other */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

enum { A, A2, B, B2, C, C2, NR };

static int fd[NR];

static int open_file(const char *name)
{
	char path[4096];
	int f;

	test_path(path, sizeof(path), name);
	f = open(path, O_RDWR | O_CREAT, 0600);
	if (f < 0)
		fail("open %s: %s", path, strerror(errno));
	return f;
}

static void set(int f, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (fcntl(f, cmd, &fl))
		fail("lock fd %d %lld+%lld: %s", f, (long long)start, (long long)len,
		     strerror(errno));
}

/* What a lock of TYPE on START+LEN through F (CMD: F_OFD_GETLK)
 * conflicts with: its type (F_UNLCK: nothing) and owner. */
static void expect(int f, int cmd, short type, off_t start, off_t len, short want, pid_t pid,
		   const char *what)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (fcntl(f, cmd, &fl))
		fail("%s: getlk: %s", what, strerror(errno));
	if (fl.l_type != want || (want != F_UNLCK && fl.l_pid != pid))
		fail("%s: conflicts with type %d of pid %d, expected type %d of pid %d", what,
		     fl.l_type, fl.l_pid, want, pid);
}

static void check_all(pid_t me)
{
	int b = fd[B2], cmd = F_OFD_GETLK;

	expect(b, cmd, F_RDLCK, 10, 20, F_WRLCK, me, "B write lock");
	expect(b, cmd, F_WRLCK, 29, 1, F_WRLCK, me, "B write lock end");
	expect(b, cmd, F_WRLCK, 30, 70, F_UNLCK, 0, "B between the locks");
	expect(b, cmd, F_WRLCK, 5, 5, F_UNLCK, 0, "B before the locks");
	expect(b, cmd, F_WRLCK, 1 << 30, 1, F_RDLCK, me, "B read lock to EOF");
	expect(b, cmd, F_RDLCK, 100, 0, F_UNLCK, 0, "B read on read");
	expect(fd[C2], F_OFD_GETLK, F_RDLCK, 5, 5, F_WRLCK, -1, "C OFD write lock");
	expect(fd[C2], F_OFD_GETLK, F_WRLCK, 10, 40, F_UNLCK, 0, "C between");
	expect(fd[C], F_OFD_GETLK, F_WRLCK, 50, 10, F_RDLCK, -1, "C2 OFD read lock");
	expect(fd[C], F_OFD_GETLK, F_RDLCK, 50, 10, F_UNLCK, 0, "C2 read on read");
	if (flock(fd[A2], LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		fail("A: a second description took LOCK_SH (%s)", strerror(errno));
}

/* A child is another owner for POSIX locks: F_GETLK sees the parent's. */
static void check_child(pid_t me)
{
	int status;
	pid_t c = fork();

	if (c < 0)
		fail("fork: %s", strerror(errno));
	if (c == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 15,
				    .l_len = 1 };

		_exit(fcntl(fd[B], F_GETLK, &fl) || fl.l_type != F_WRLCK || fl.l_pid != me ||
		      flock(fd[A2], LOCK_EX | LOCK_NB) == 0);
	}
	if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child did not see the locks (status 0x%x)", status);
}

int main(int argc, char **argv)
{
	pid_t me;

	test_init(argc, argv);
	me = getpid();
	fd[A] = open_file("a");
	fd[A2] = open_file("a");
	fd[B] = open_file("b");
	fd[B2] = open_file("b");
	fd[C] = open_file("c");
	fd[C2] = open_file("c");
	if (flock(fd[A], LOCK_EX | LOCK_NB))
		fail("flock: %s", strerror(errno));
	set(fd[B], F_SETLK, F_WRLCK, 10, 20);
	set(fd[B], F_SETLK, F_RDLCK, 100, 0);
	set(fd[C], F_OFD_SETLK, F_WRLCK, 5, 5);
	set(fd[C2], F_OFD_SETLK, F_RDLCK, 50, 10);
	check_all(me);

	test_waitsig();

	if (getpid() != me)
		fail("pid %d, was %d", getpid(), me);
	check_all(me);
	check_child(me);
	/* Still the owner: it can unlock and take them again. */
	set(fd[B], F_SETLK, F_UNLCK, 0, 0);
	expect(fd[B2], F_OFD_GETLK, F_WRLCK, 0, 0, F_UNLCK, 0, "B after unlocking");
	if (flock(fd[A], LOCK_UN) || flock(fd[A2], LOCK_EX | LOCK_NB))
		fail("A: flock after unlocking: %s", strerror(errno));
	pass();
}
