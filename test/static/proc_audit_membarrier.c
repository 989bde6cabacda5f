/* The audit loginuid and the membarrier registrations: the process sets
 * its loginuid (root has CAP_AUDIT_CONTROL) and registers for private and
 * global expedited barriers; after the checkpoint both must be as set,
 * and an expedited barrier must work (it fails with EPERM unregistered). */
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

#define CMD_GET_REGISTRATIONS (1 << 9)
#define REGISTERED (MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED | \
		    MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)

static long membarrier(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0);
}

static unsigned long read_loginuid(void)
{
	char buf[32] = "";

	if (test_read_file("/proc/self/loginuid", buf, sizeof(buf) - 1) <= 0)
		fail("read /proc/self/loginuid: %s", strerror(errno));
	return strtoul(buf, NULL, 10);
}

int main(int argc, char **argv)
{
	unsigned long uid = 1000 + test_seed() % 50000;
	char buf[32];
	long regs;
	int fd, n;

	test_init(argc, argv);
	fd = open("/proc/self/loginuid", O_WRONLY | O_CLOEXEC);
	n = snprintf(buf, sizeof(buf), "%lu", uid);
	if (fd < 0 || write(fd, buf, n) != n || close(fd))
		fail("set loginuid %lu: %s", uid, strerror(errno));
	if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) ||
	    membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED))
		fail("membarrier register: %s", strerror(errno));
	test_waitsig();
	if (read_loginuid() != uid)
		fail("loginuid %lu, not %lu", read_loginuid(), uid);
	regs = membarrier(CMD_GET_REGISTRATIONS);
	if (regs != REGISTERED)
		fail("membarrier registrations 0x%lx, not 0x%x", regs, REGISTERED);
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		fail("MEMBARRIER_CMD_PRIVATE_EXPEDITED: %s", strerror(errno));
	pass();
}
