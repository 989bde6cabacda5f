/* Signal-driven I/O owned by a thread given to F_SETOWN by its tid: the
 * kernel then signals that thread's process (the tid looked up as a
 * process), and F_GETOWN_EX shows "process 0".  A pipe's read end,
 * O_ASYNC, F_SETSIG(SIGRTMIN + 3), owner the tid of the process's second
 * thread.  After the restore F_GETOWN_EX and F_GETSIG read as before and
 * a write into the pipe signals the process with the read end's fd in the
 * siginfo; one with no owner (the restore's silent default before) would
 * signal nobody. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

#define SIG (SIGRTMIN + 3)
#define WAIT_S 10

static int pfd[2];
static atomic_int got, got_fd = -1;
static atomic_int tid;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	atomic_store(&got_fd, si->si_fd);
	atomic_fetch_add(&got, 1);
}

static void *idle(void *arg)
{
	(void)arg;
	atomic_store(&tid, syscall(SYS_gettid));
	for (;;)
		pause();
	return NULL;
}

static void owner_of(struct f_owner_ex *o, int *sig)
{
	if (fcntl(pfd[0], F_GETOWN_EX, o) || (*sig = fcntl(pfd[0], F_GETSIG)) < 0)
		fail("F_GETOWN_EX/F_GETSIG: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_sig, .sa_flags = SA_SIGINFO };
	struct f_owner_ex was, now;
	int sig_was, sig_now;
	uint64_t t0;
	pthread_t th;

	test_init(argc, argv);
	if (sigaction(SIG, &sa, NULL) || pipe(pfd) || pthread_create(&th, NULL, idle, NULL))
		fail("setup: %s", strerror(errno));
	while (!atomic_load(&tid))
		usleep(1000);
	if (fcntl(pfd[0], F_SETOWN, atomic_load(&tid)) || fcntl(pfd[0], F_SETSIG, SIG) ||
	    fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_ASYNC))
		fail("F_SETOWN/F_SETSIG/O_ASYNC: %s", strerror(errno));
	owner_of(&was, &sig_was);
	if (was.pid || was.type != F_OWNER_PID)
		fail("F_GETOWN_EX of a thread's tid: type %d pid %d", was.type, was.pid);
	if (write(pfd[1], "x", 1) != 1)
		fail("write: %s", strerror(errno));
	for (t0 = test_now_ns(); !atomic_load(&got) && test_now_ns() - t0 < WAIT_S * 1000000000ULL;)
		usleep(1000);
	if (!atomic_load(&got))
		fail("no signal before the checkpoint");
	atomic_store(&got, 0);
	test_waitsig();

	owner_of(&now, &sig_now);
	if (now.type != was.type || now.pid != was.pid || sig_now != sig_was)
		fail("owner type %d pid %d signal %d, was type %d pid %d signal %d", now.type,
		     now.pid, sig_now, was.type, was.pid, sig_was);
	if (!(fcntl(pfd[0], F_GETFL) & O_ASYNC))
		fail("O_ASYNC is gone");
	if (write(pfd[1], "y", 1) != 1)
		fail("write: %s", strerror(errno));
	for (t0 = test_now_ns(); !atomic_load(&got) && test_now_ns() - t0 < WAIT_S * 1000000000ULL;)
		usleep(1000);
	if (!atomic_load(&got))
		fail("no signal after the restore: the owner is lost");
	if (atomic_load(&got_fd) != pfd[0])
		fail("the signal names fd %d, not %d", atomic_load(&got_fd), pfd[0]);
	pass();
}
