/* A target lmproc cannot dump: it runs under a seccomp filter (one that
 * allows everything), which can't be read back.  It counts in a busy loop
 * until SIGTERM and checks that it kept counting and that the filter is
 * still in place: a refused dump must leave it running as before. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>

#include "test.h"

int main(int argc, char **argv)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog prog = { .len = 1, .filter = allow };
	volatile uint64_t counter = 0;
	uint64_t seen;

	test_init(argc, argv);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0))
		fail("seccomp: %s", strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	seen = counter;
	if (!seen)
		fail("did not count");
	if (prctl(PR_GET_SECCOMP) != SECCOMP_MODE_FILTER)
		fail("the seccomp filter is gone");
	pass();
}
