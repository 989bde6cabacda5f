/* Owner, mode and times of what restore writes back: a deleted file owned
 * by another user with mode 0640, a memfd given another owner, a FIFO
 * holding bytes; each with times set in the past.  After the checkpoint
 * each must have its owner, mode, atime and mtime as set (restore wrote
 * their contents, which moves mtime), and its contents. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define UID 1234
#define GID 2345
#define DATA "attrs"

static const struct timespec times[2] = {{.tv_sec = 1000000000, .tv_nsec = 123456789},
					 {.tv_sec = 1100000000, .tv_nsec = 987654321}};

static void set_attrs(int fd, const char *what, bool owner)
{
	if (owner && (fchown(fd, UID, GID) || fchmod(fd, 0640)))
		fail("chown %s: %s", what, strerror(errno));
	if (futimens(fd, times))
		fail("futimens %s: %s", what, strerror(errno));
}

static void check_attrs(int fd, const char *what, bool owner)
{
	struct stat st;

	if (fstat(fd, &st))
		fail("fstat %s: %s", what, strerror(errno));
	if (owner && (st.st_uid != UID || st.st_gid != GID || (st.st_mode & 07777) != 0640))
		fail("%s: owner %u:%u mode 0%o, not %u:%u 0640", what, st.st_uid, st.st_gid,
		     st.st_mode & 07777, UID, GID);
	if (st.st_atim.tv_sec != times[0].tv_sec || st.st_atim.tv_nsec != times[0].tv_nsec ||
	    st.st_mtim.tv_sec != times[1].tv_sec || st.st_mtim.tv_nsec != times[1].tv_nsec)
		fail("%s: atime %ld.%09ld mtime %ld.%09ld, not as set", what,
		     (long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec,
		     st.st_mtim.tv_nsec);
}

static void check_data(int fd, const char *what, bool fifo)
{
	char buf[sizeof(DATA)] = "";

	if ((fifo ? read(fd, buf, sizeof(DATA) - 1) : pread(fd, buf, sizeof(DATA) - 1, 0)) !=
		    sizeof(DATA) - 1 || strcmp(buf, DATA))
		fail("%s holds \"%s\", not \"%s\"", what, buf, DATA);
}

int main(int argc, char **argv)
{
	char path[4096], fifo_path[4096];
	int file, mfd, fifo;

	test_init(argc, argv);
	test_path(path, sizeof(path), "deleted");
	test_path(fifo_path, sizeof(fifo_path), "fifo");
	file = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	mfd = memfd_create("attrs", MFD_CLOEXEC);
	if (file < 0 || mfd < 0 || mkfifo(fifo_path, 0600))
		fail("create the files: %s", strerror(errno));
	fifo = open(fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fifo < 0 || write(file, DATA, sizeof(DATA) - 1) != sizeof(DATA) - 1 ||
	    write(mfd, DATA, sizeof(DATA) - 1) != sizeof(DATA) - 1 ||
	    write(fifo, DATA, sizeof(DATA) - 1) != sizeof(DATA) - 1 || unlink(path))
		fail("fill the files: %s", strerror(errno));
	set_attrs(file, "the deleted file", true);
	set_attrs(mfd, "the memfd", true);
	set_attrs(fifo, "the FIFO", false);
	test_waitsig();
	check_attrs(file, "the deleted file", true);
	check_attrs(mfd, "the memfd", true);
	check_attrs(fifo, "the FIFO", false);
	check_data(file, "the deleted file", false);
	check_data(mfd, "the memfd", false);
	check_data(fifo, "the FIFO", true);
	pass();
}
