/* Owns lmproc's catching of SIGINT, SIGTERM and SIGHUP while a command
 * must finish or undo its step (see interrupt.h). */
#include <errno.h>
#include <signal.h>

#include "common.h"
#include "interrupt.h"
#include "log.h"

static const int caught_sigs[] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction old_act[ARRAY_SIZE(caught_sigs)];
static bool catching;
static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	if (!caught)
		caught = sig;
}

int interrupt_catch(void)
{
	/* No SA_RESTART: a wait returns EINTR and looks at the flag. */
	struct sigaction sa = { .sa_handler = on_signal };

	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(caught_sigs); i++) {
		if (sigaction(caught_sigs[i], NULL, &old_act[i])) {
			pr_perror("Can't read the action of signal %d", caught_sigs[i]);
			return -errno;
		}
		if (old_act[i].sa_handler == SIG_IGN)
			continue;
		if (sigaction(caught_sigs[i], &sa, NULL)) {
			pr_perror("Can't catch signal %d", caught_sigs[i]);
			return -errno;
		}
	}
	catching = true;
	return 0;
}

int interrupted(void)
{
	return caught;
}

void interrupt_release(void)
{
	if (!catching)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(caught_sigs); i++)
		sigaction(caught_sigs[i], &old_act[i], NULL);
	catching = false;
}
