/* A pty whose slave (/dev/pts/N) was given another owner and mode, as
 * grantpt() does for a user's terminal: after the checkpoint the slave's
 * inode must have them again. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define OWNER_GID 5
#define PERM 0620

int main(int argc, char **argv)
{
	uid_t uid = 1000 + test_seed() % 50000;
	int master, slave, unlock = 0;
	struct stat st;

	test_init(argc, argv);
	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock))
		fail("open /dev/ptmx: %s", strerror(errno));
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (slave < 0)
		fail("open the slave: %s", strerror(errno));
	if (fchown(slave, uid, OWNER_GID) || fchmod(slave, PERM))
		fail("chown the slave: %s", strerror(errno));
	test_waitsig();
	if (fstat(slave, &st))
		fail("fstat the slave: %s", strerror(errno));
	if (st.st_uid != uid || st.st_gid != OWNER_GID || (st.st_mode & 07777) != PERM)
		fail("the slave has owner %u:%u mode 0%o, not %u:%u 0%o", st.st_uid, st.st_gid,
		     st.st_mode & 07777, uid, OWNER_GID, PERM);
	pass();
}
