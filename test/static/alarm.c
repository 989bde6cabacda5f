/* alarm(2): armed 1000 s ahead before the checkpoint; afterwards alarm()
 * says no more than before and no less than before minus the time that
 * passed (rounded to seconds), and a short alarm set after the restore
 * still fires. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

static volatile sig_atomic_t rang;

static void on_alarm(int sig)
{
	(void)sig;
	rang = 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	unsigned int left, now;
	uint64_t t0, elapsed_s;
	sigset_t none;

	test_init(argc, argv);
	if (sigaction(SIGALRM, &sa, NULL))
		fail("sigaction: %s", strerror(errno));
	alarm(1000);
	left = alarm(1000);
	t0 = test_now_ns();

	test_waitsig();

	elapsed_s = (test_now_ns() - t0) / 1000000000ULL;
	now = alarm(1);
	if (rang || !now || now > left || now + elapsed_s + 1 < left)
		fail("alarm: %u s left (rang %d), %u before, %llu s passed", now, (int)rang, left,
		     (unsigned long long)elapsed_s);
	sigemptyset(&none);
	t0 = test_now_ns();
	while (!rang && test_now_ns() - t0 < 5000000000ULL)
		sigsuspend(&none);
	if (!rang)
		fail("a 1 s alarm set after the checkpoint did not ring in 5 s");
	pass();
}
