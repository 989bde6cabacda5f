/* Targets whose seccomp state lmproc refuses: by default a filter that
 * sends user notifications (SECCOMP_FILTER_FLAG_NEW_LISTENER; the
 * listener closed, the program still returns SECCOMP_RET_USER_NOTIF),
 * whose listener a restore could not make again; with SECCOMP_CASE=nocap
 * a filter installed without no_new_privs by a thread that then dropped
 * CAP_SYS_ADMIN, which a restore could not install again; with
 * SECCOMP_CASE=noadmin one that dumps (no_new_privs set, CAP_SYS_ADMIN
 * gone from every set) but that an lmproc without CAP_SYS_ADMIN can't
 * restore.  It counts in a
 * busy loop until SIGTERM and checks that it kept counting and that its
 * filter still answers getppid(): a refused dump must leave it running
 * as before. */
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

#define CAP_SYS_ADMIN_BIT 21

static int install(uint32_t action, unsigned int flags)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, action),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};
	long ret = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);

	if (ret < 0)
		fail("seccomp: %s", strerror(errno));
	return (int)ret;
}

static void drop_sys_admin(bool everywhere)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		fail("capget: %s", strerror(errno));
	d[0].effective &= ~(1U << CAP_SYS_ADMIN_BIT);
	if (everywhere)
		d[0].permitted &= ~(1U << CAP_SYS_ADMIN_BIT);
	if (everywhere && prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN_BIT, 0, 0, 0))
		fail("PR_CAPBSET_DROP: %s", strerror(errno));
	if (syscall(SYS_capset, &h, d))
		fail("capset: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	const char *kind = getenv("SECCOMP_CASE");
	bool nocap = kind && !strcmp(kind, "nocap");
	bool noadmin = kind && !strcmp(kind, "noadmin");
	int want = nocap || noadmin ? EPERM : ENOSYS;
	volatile uint64_t counter = 0;

	test_init(argc, argv);
	if (nocap) {
		install(SECCOMP_RET_ERRNO | EPERM, 0);
		drop_sys_admin(false);
	} else if (noadmin) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		install(SECCOMP_RET_ERRNO | EPERM, 0);
		drop_sys_admin(true);
	} else {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		close(install(SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER));
	}
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("did not count");
	if (prctl(PR_GET_SECCOMP) != SECCOMP_MODE_FILTER)
		fail("the seccomp filter is gone");
	if (syscall(SYS_getppid) != -1 || errno != want)
		fail("getppid() is no longer refused with errno %d", want);
	pass();
}
