/* Owns turning the file handles fdinfo shows for notification marks
 * (inotify watches, fanotify inode marks) back into paths: the handle is
 * opened (open_by_handle_at) through a mount of the file's device, and
 * the path that fd shows must lead to the same inode.  Also finds the
 * mount point of a mount or a device in a process's mountinfo. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "proc.h"

#define MAX_HANDLE 128

/* Opens the file of handle FH through the first mount of device DEV
 * (kernel encoding, as fdinfo's sdev) in lmproc's mountinfo that can: a
 * bind mount of a subdirectory cannot reach files outside it. */
static int open_handle(unsigned int dev, struct file_handle *fh)
{
	cleanup_free char *info = proc_read_file("/proc/self/mountinfo", NULL);
	unsigned int maj = dev >> 20, min = dev & 0xfffff;

	for (char *l = info; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned int ma, mi;
		char mnt[4096];
		int mfd, fd;

		if (sscanf(l, "%*u %*u %u:%u %*s %4095s", &ma, &mi, mnt) != 3 || ma != maj ||
		    mi != min)
			continue;
		mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mfd < 0)
			continue;
		fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
		close(mfd);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

static int hex_bytes(const char *hex, unsigned char *out, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &out[i]) != 1)
			return -EINVAL;
	return 0;
}

int fhandle_path(unsigned int sdev, unsigned long ino, const char *l, char **path,
		 struct stat *st)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE];
	} h;
	unsigned int bytes, type;
	char hex[2 * MAX_HANDLE + 1], link[64], buf[4096];
	int fd, ret = -ENOENT;

	l = strstr(l, "fhandle-bytes:");
	if (!l || sscanf(l, "fhandle-bytes:%x fhandle-type:%x f_handle:%256s", &bytes, &type,
			 hex) != 3 || bytes > MAX_HANDLE || hex_bytes(hex, h.bytes, bytes))
		return -EINVAL;
	h.fh.handle_bytes = bytes;
	h.fh.handle_type = type;
	fd = open_handle(sdev, &h.fh);
	if (fd < 0)
		return -ENOENT;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (!proc_readlink(link, buf, sizeof(buf)) && buf[0] == '/' && !stat(buf, st) &&
	    st->st_ino == ino &&
	    (unsigned int)((major(st->st_dev) << 20) | minor(st->st_dev)) == sdev)
		ret = 0;
	close(fd);
	if (ret)
		return ret;
	*path = strdup(buf);
	return *path ? 0 : -ENOMEM;
}

/* Mount points with a backslash are escaped in mountinfo: not taken. */
int mount_point_of(pid_t pid, int mnt_id, unsigned int sdev, char **path)
{
	char name[64];
	cleanup_free char *info = NULL;

	snprintf(name, sizeof(name), "/proc/%d/mountinfo", pid);
	info = proc_read_file(name, NULL);
	for (char *l = info; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned int ma, mi;
		char mnt[4096];
		int id;

		if (sscanf(l, "%d %*u %u:%u %*s %4095s", &id, &ma, &mi, mnt) != 4 ||
		    strchr(mnt, '\\'))
			continue;
		if (mnt_id >= 0 ? id != mnt_id : (ma << 20 | mi) != sdev)
			continue;
		*path = strdup(mnt);
		return *path ? 0 : -ENOMEM;
	}
	return -ENOENT;
}
