/* A task caught in pause(): the checkpoint interrupts it with
 * -ERESTARTNOHAND, and the restore must restart it.  pause() may return
 * only because the SIGTERM handler ran. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	int ret;

	test_init(argc, argv);
	test_ready();
	ret = pause();
	if (ret != -1 || errno != EINTR)
		fail("pause() returned %d, errno %d (%s)", ret, errno, strerror(errno));
	if (!test_sig_received)
		fail("pause() returned without a signal handler having run (spurious EINTR)");
	pass();
}
