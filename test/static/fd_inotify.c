/* inotify: after the restore every watch has its number (a gap left by a
 * removed watch too), inode and mask back, flags are kept, no stray event
 * is queued, and the watches still report: a file created in the watched
 * directory (watch 1) and a write to the watched file (watch 3; watch 2
 * was removed before the checkpoint). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "test.h"

static char info[2][1024];

/* "inotify wd:... ino:... sdev:... mask:..." lines, without the handle. */
static void read_watches(int fd, char *out, size_t len)
{
	char buf[4096], *l, *save;

	test_read_fdinfo(fd, buf, sizeof(buf));
	out[0] = '\0';
	for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *h = strstr(l, " fhandle");

		if (strncmp(l, "inotify", 7) && strncmp(l, "flags", 5))
			continue;
		if (h)
			*h = '\0';
		snprintf(out + strlen(out), len - strlen(out), "%s;", l);
	}
}

static void expect_event(int fd, int wd, uint32_t mask, const char *name)
{
	char buf[4096] __attribute__((aligned(8)));
	struct inotify_event *ev = (struct inotify_event *)buf;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, 5000) != 1 || read(fd, buf, sizeof(buf)) < (ssize_t)sizeof(*ev))
		fail("no inotify event for watch %d: %s", wd, strerror(errno));
	if (ev->wd != wd || !(ev->mask & mask) || (name && strcmp(ev->name, name)))
		fail("inotify event: watch %d mask 0x%x name \"%s\", expected %d 0x%x \"%s\"",
		     ev->wd, ev->mask, ev->len ? ev->name : "", wd, mask, name ? name : "");
}

int main(int argc, char **argv)
{
	char dir[4096], file[4096], other[4096], created[4096], buf[4096];
	int in, in2, fd, wd[3];

	test_init(argc, argv);
	test_path(dir, sizeof(dir), "");
	test_path(file, sizeof(file), "watched");
	test_path(other, sizeof(other), "other");
	test_path(created, sizeof(created), "created");
	unlink(created);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || close(fd) || (fd = open(other, O_WRONLY | O_CREAT, 0644)) < 0 || close(fd))
		fail("create: %s", strerror(errno));
	in = inotify_init1(IN_NONBLOCK);
	in2 = inotify_init1(IN_CLOEXEC);
	if (in < 0 || in2 < 0)
		fail("inotify_init1: %s", strerror(errno));
	wd[0] = inotify_add_watch(in, dir, IN_CREATE | IN_DELETE);
	wd[1] = inotify_add_watch(in, other, IN_ATTRIB);
	wd[2] = inotify_add_watch(in, file, IN_MODIFY | IN_CLOSE_WRITE);
	if (wd[0] != 1 || wd[1] != 2 || wd[2] != 3 || inotify_add_watch(in2, file, IN_OPEN) != 1)
		fail("inotify_add_watch gave %d %d %d: %s", wd[0], wd[1], wd[2], strerror(errno));
	if (inotify_rm_watch(in, wd[1]))
		fail("inotify_rm_watch: %s", strerror(errno));
	while (read(in, buf, sizeof(buf)) > 0)
		;
	read_watches(in, info[0], sizeof(info[0]));
	read_watches(in2, info[1], sizeof(info[1]));

	test_waitsig();

	read_watches(in, buf, sizeof(buf));
	if (strcmp(buf, info[0]))
		fail("inotify: \"%s\", was \"%s\"", buf, info[0]);
	read_watches(in2, buf, sizeof(buf));
	if (strcmp(buf, info[1]))
		fail("second inotify: \"%s\", was \"%s\"", buf, info[1]);
	if (read(in, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		fail("an event was queued after the restore (or the fd blocks)");
	fd = open(created, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		fail("create %s: %s", created, strerror(errno));
	close(fd);
	expect_event(in, 1, IN_CREATE, "created");
	fd = open(file, O_WRONLY);
	if (fd < 0 || write(fd, "x", 1) != 1)
		fail("write %s: %s", file, strerror(errno));
	close(fd);
	expect_event(in, 3, IN_MODIFY, NULL);
	expect_event(in2, 1, IN_OPEN, NULL);
	unlink(created);
	pass();
}
