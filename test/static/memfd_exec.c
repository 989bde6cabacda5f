/* A memfd holding a copy of /bin/true, open read-write as memfd_create()
 * made it: after the checkpoint a child must still execute it (fexecve),
 * which fails with ETXTBSY if restore left a writer of its inode. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static int run(int mfd)
{
	static char *const argv[] = {"true", NULL}, *const envp[] = {NULL};
	pid_t pid = fork();
	int st;

	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		fexecve(mfd, argv, envp);
		_exit(errno == ETXTBSY ? 100 : 101);
	}
	if (waitpid(pid, &st, 0) != pid)
		fail("waitpid: %s", strerror(errno));
	return st;
}

int main(int argc, char **argv)
{
	struct stat st;
	int src, mfd, ret;

	test_init(argc, argv);
	src = open("/bin/true", O_RDONLY | O_CLOEXEC);
	mfd = memfd_create("true", 0);
	if (src < 0 || mfd < 0 || fstat(src, &st))
		fail("open /bin/true or memfd_create: %s", strerror(errno));
	if (sendfile(mfd, src, NULL, st.st_size) != st.st_size)
		fail("copy /bin/true: %s", strerror(errno));
	close(src);
	if ((ret = run(mfd)))
		fail("fexecve before the checkpoint: status 0x%x", ret);
	test_waitsig();
	ret = run(mfd);
	if (ret)
		fail("fexecve of the memfd: status 0x%x%s", ret,
		     WIFEXITED(ret) && WEXITSTATUS(ret) == 100 ? " (ETXTBSY)" : "");
	pass();
}
