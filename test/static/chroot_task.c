/* A process that called chroot(): its root is DIR/root (which holds a
 * marker file and no /proc), its cwd that root.  After the restore the
 * marker is at "/" and "/proc" is absent, so the root is the one it had;
 * then it leaves the chroot through an fd of the real root it kept (an
 * O_PATH directory) to write its verdict.  The pid file is written from
 * inside the chroot through an fd of its directory, so the runner only
 * sees the task once its root changed (the library writes it by path). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static const char *arg_of(int argc, char **argv, const char *name)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return NULL;
}

/* The pid file, written atomically into the directory DIR. */
static void write_pidfile(int dir, const char *name)
{
	char tmp[4200], buf[32];
	int fd, len = snprintf(buf, sizeof(buf), "%d\n", getpid());

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, len) != len || close(fd) || renameat(dir, tmp, dir, name))
		fail("can't write the pid file %s: %s", name, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *pidfile = arg_of(argc, argv, "--pidfile");
	char root[4096], marker[4200], cwd[64], pdir[4096], pname[4096];
	sigset_t term, old;
	struct stat st;
	int real_root, dir;

	test_init(argc, argv);
	if (!pidfile)
		fail("no --pidfile");
	snprintf(pdir, sizeof(pdir), "%s", pidfile);
	snprintf(pname, sizeof(pname), "%s", pidfile);
	test_path(root, sizeof(root), "root");
	snprintf(marker, sizeof(marker), "%s/marker", root);
	if (mkdir(root, 0755) || close(open(marker, O_WRONLY | O_CREAT, 0644)))
		fail("making %s: %s", marker, strerror(errno));
	real_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	dir = open(dirname(pdir), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (real_root < 0 || dir < 0 || chroot(root) || chdir("/"))
		fail("chroot %s: %s", root, strerror(errno));
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &term, &old))
		fail("sigprocmask: %s", strerror(errno));
	write_pidfile(dir, basename(pname));
	close(dir);
	while (!test_sig_received)
		sigsuspend(&old);

	if (stat("/marker", &st) || !S_ISREG(st.st_mode))
		fail("no /marker after the restore: the root is not %s", root);
	if (!stat("/proc", &st))
		fail("/proc is there after the restore: the root is not %s", root);
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, "/"))
		fail("cwd is not the root after the restore");
	if (fchdir(real_root) || chroot(".") || chdir("/"))
		fail("leaving the chroot: %s", strerror(errno));
	pass();
}
