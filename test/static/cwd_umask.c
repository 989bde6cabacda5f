/* Working directory and umask: the task works in a subdirectory of its
 * scratch dir with umask 027.  After the restore getcwd() is the same,
 * relative paths resolve there, and new files get the same mode bits.
 * The files it creates are removed again: with --leave-running the
 * original runs these checks before the restored copy does. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	char dir[4096], cwd_before[4096], cwd_after[4096];
	struct stat st;
	mode_t old;
	int fd;

	test_init(argc, argv);
	test_path(dir, sizeof(dir), "cwd.d");
	if (mkdir(dir, 0755) || chdir(dir))
		fail("mkdir/chdir %s: %s", dir, strerror(errno));
	fd = open("marker", O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		fail("create marker: %s", strerror(errno));
	close(fd);
	umask(027);
	if (!getcwd(cwd_before, sizeof(cwd_before)))
		fail("getcwd: %s", strerror(errno));

	test_waitsig();

	if (!getcwd(cwd_after, sizeof(cwd_after)) || strcmp(cwd_before, cwd_after))
		fail("cwd is '%s', was '%s'", cwd_after, cwd_before);
	if (stat("marker", &st))
		fail("relative path 'marker' no longer resolves: %s", strerror(errno));
	old = umask(022);
	if (old != 027)
		fail("umask is %03o, was 027", old);
	umask(027);
	fd = open("new", O_WRONLY | O_CREAT | O_EXCL, 0666);
	if (fd < 0 || fstat(fd, &st))
		fail("create 'new': %s", strerror(errno));
	close(fd);
	unlink("new");
	if ((st.st_mode & 0777) != 0640)
		fail("new file got mode %03o, want 640", st.st_mode & 0777);
	pass();
}
