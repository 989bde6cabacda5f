/* A target holding a read lease (F_SETLEASE) on fd 5 that is being
 * broken: a child opened the file for writing (O_NONBLOCK: EWOULDBLOCK,
 * the break started), and the target has not given the lease up.  lmproc
 * refuses it; the target counts until SIGTERM, then checks that the
 * break still reached it (its SIGIO) and that the lease is still being
 * broken, or was removed by the kernel once the break time ran out. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static volatile sig_atomic_t sigio;

static void on_sigio(int sig)
{
	(void)sig;
	sigio = 1;
}

static void start_break(const char *path)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(open(path, O_WRONLY | O_NONBLOCK) < 0 && errno == EWOULDBLOCK ? 0 : 1);
	if (waitpid(pid, &st, 0) != pid || st)
		fail("the child's open did not start a break: status %#x", st);
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	struct sigaction sa = { .sa_handler = on_sigio, .sa_flags = SA_RESTART };
	char path[4096];
	int f;

	test_init(argc, argv);
	if (sigaction(SIGIO, &sa, NULL))
		fail("sigaction: %s", strerror(errno));
	test_path(path, sizeof(path), "leased");
	f = open(path, O_RDWR | O_CREAT, 0600);
	if (f < 0)
		fail("create %s: %s", path, strerror(errno));
	close(f);
	f = open(path, O_RDONLY);
	if (f < 0 || dup2(f, 5) != 5 || fcntl(5, F_SETLEASE, F_RDLCK))
		fail("lease on fd 5: %s", strerror(errno));
	close(f);
	start_break(path);
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (!sigio)
		fail("no SIGIO for the break");
	if (fcntl(5, F_GETLEASE) != F_UNLCK)
		fail("the lease is not being broken: %d", fcntl(5, F_GETLEASE));
	pass();
}
