/* A working directory removed while in use: the task works in
 * DIR/cwd.d (mode 0750), which is then removed, and a new directory with a
 * file in it takes its name; a child forked then shares the removed cwd
 * (both are made again at one path).  After the restore /proc/self/cwd reads
 * back the same "PATH (deleted)", getcwd() fails with ENOENT, "." is a
 * directory of mode 0750 with no link that takes no new file, and the
 * directory that took the name is there as it was, nothing left beside. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static void read_cwd(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/cwd", buf, size - 1);

	if (n < 0)
		fail("readlink /proc/self/cwd: %s", strerror(errno));
	buf[n] = '\0';
}

static void check_dir(const char *dir, const char *cwd, const struct stat *was)
{
	char marker[4096];
	struct dirent *de;
	struct stat now;
	DIR *d;

	if (lstat(cwd, &now) || now.st_ino != was->st_ino || !S_ISDIR(now.st_mode))
		fail("%s is not the directory that took the name any more", cwd);
	test_path(marker, sizeof(marker), "cwd.d/marker");
	if (access(marker, F_OK))
		fail("%s is gone: %s", marker, strerror(errno));
	d = opendir(dir);
	if (!d)
		fail("opendir %s: %s", dir, strerror(errno));
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, ".lmproc", 7))
			fail("%s/%s is left over", dir, de->d_name);
	closedir(d);
}

/* Blocks across the checkpoint, then checks its cwd: exit status 0 if
 * it reads as it did. */
static void child(int go, const char *was)
{
	char now[4096], buf[64], c;
	ssize_t n;

	if (read(go, &c, 1) != 1)
		_exit(2);
	n = readlink("/proc/self/cwd", now, sizeof(now) - 1);
	if (n < 0)
		_exit(3);
	now[n] = '\0';
	if (strcmp(now, was))
		_exit(4);
	_exit(getcwd(buf, sizeof(buf)) || errno != ENOENT ? 5 : 0);
}

int main(int argc, char **argv)
{
	char dir[4096], cwd[4096], marker[4096], was[4096], now[4096], buf[64];
	struct stat st, sr;
	int fd, go[2], status;
	pid_t pid;

	test_init(argc, argv);
	test_path(dir, sizeof(dir), "");
	test_path(cwd, sizeof(cwd), "cwd.d");
	test_path(marker, sizeof(marker), "cwd.d/marker");
	if (mkdir(cwd, 0700) || chmod(cwd, 0750) || chdir(cwd) || rmdir(cwd))
		fail("mkdir/chdir/rmdir %s: %s", cwd, strerror(errno));
	if (mkdir(cwd, 0755) || (fd = open(marker, O_WRONLY | O_CREAT, 0644)) < 0 || stat(cwd, &sr))
		fail("a new %s: %s", cwd, strerror(errno));
	close(fd);
	read_cwd(was, sizeof(was));
	if (pipe(go))
		fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (!pid)
		child(go[0], was);
	close(go[0]);

	test_waitsig();

	if (write(go[1], "g", 1) != 1 || waitpid(pid, &status, 0) != pid)
		fail("wake the child: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child's cwd is not as it was (status 0x%x)", status);

	read_cwd(now, sizeof(now));
	if (strcmp(now, was))
		fail("/proc/self/cwd is '%s', was '%s'", now, was);
	if (getcwd(buf, sizeof(buf)) || errno != ENOENT)
		fail("getcwd: %s, expected ENOENT", strerror(errno));
	if (stat(".", &st) || !S_ISDIR(st.st_mode) || (st.st_mode & 07777) != 0750 || st.st_nlink)
		fail(".: mode 0%o, %lu links; want a directory of mode 0750, no link", st.st_mode,
		     (unsigned long)st.st_nlink);
	if (open("new", O_WRONLY | O_CREAT, 0644) >= 0 || errno != ENOENT)
		fail("a new file in the removed cwd: %s, expected ENOENT", strerror(errno));
	check_dir(dir, cwd, &sr);
	pass();
}
