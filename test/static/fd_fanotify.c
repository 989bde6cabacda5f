/* fanotify groups with marks of every kind: after the restore each group
 * shows the same flags and marks in fdinfo (objects, masks, ignored
 * masks, mark flags), and events still come.
 *   A  non-blocking, fd events: F marked for FAN_MODIFY|FAN_CLOSE_WRITE; G
 *      for FAN_OPEN|FAN_CLOSE_NOWRITE with FAN_CLOSE_NOWRITE ignored
 *      (surviving modification); the /dev/shm mount and its filesystem for
 *      FAN_OPEN_EXEC (which nothing does there)
 *   B  file ids with names: DIR marked for FAN_CREATE
 * A mount mark is compared by its mount's id in the mount namespace the
 * marks were made in, and by the mount point in another one (a copy moved
 * by lmproc migrate runs in a new mount namespace, whose mounts have ids
 * of their own). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define INFO_MAX 8192

enum { A, B, NR };

static int grp[NR];
static char info[NR][2][INFO_MAX];	/* without, with the mount marks' ids */
static char f_path[4096], g_path[4096], dir[4096];
static ino_t mnt_ns;	/* the mount namespace the marks were made in */

static ino_t mnt_ns_now(void)
{
	struct stat st;

	if (stat("/proc/self/ns/mnt", &st))
		fail("stat /proc/self/ns/mnt: %s", strerror(errno));
	return st.st_ino;
}

/* "fanotify mnt_id:ID REST" as "fanotify mount:POINT[ mnt_id:ID] REST"
 * into OUT of SIZE: POINT from /proc/self/mountinfo, the id if WITH_ID. */
static void mount_mark(const char *line, char *out, size_t size, bool with_id)
{
	static char mi[1 << 16];
	char point[4096] = "?", *save = NULL;
	const char *rest = strchr(line + 17, ' ');
	unsigned int id, mid;
	ssize_t n = test_read_file("/proc/self/mountinfo", mi, sizeof(mi) - 1);

	if (sscanf(line, "fanotify mnt_id:%x", &id) != 1 || !rest || n < 0)
		fail("can't read the mount mark '%s' or mountinfo", line);
	mi[n] = '\0';
	for (char *l = strtok_r(mi, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (sscanf(l, "%u %*u %*s %*s %4095s", &mid, point) == 2 && mid == id)
			break;
	if (with_id)
		snprintf(out, size, "fanotify mount:%s mnt_id:%x%s", point, id, rest);
	else
		snprintf(out, size, "fanotify mount:%s%s", point, rest);
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The "fanotify" lines of fd FD's fdinfo, a mount mark's as mount_mark
 * says (WITH_ID), sorted, into OUT. */
static void marks_of(int fd, char *out, bool with_id)
{
	static char mounts[64][512];
	char text[INFO_MAX], *lines[64], *save = NULL;
	size_t n = 0;

	test_read_fdinfo(fd, text, sizeof(text));
	for (char *l = strtok_r(text, "\n", &save); l && n < 64; l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "fanotify mnt_id:", 16)) {
			mount_mark(l, mounts[n], sizeof(mounts[n]), with_id);
			l = mounts[n];
		}
		if (!strncmp(l, "fanotify", 8))
			lines[n++] = l;
	}
	qsort(lines, n, sizeof(*lines), cmp_line);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strncat(out, lines[i], INFO_MAX - strlen(out) - 2);
		strcat(out, "\n");
	}
}

static void mark(int g, unsigned int flags, uint64_t mask, const char *path)
{
	if (fanotify_mark(g, FAN_MARK_ADD | flags, mask, AT_FDCWD, path))
		fail("fanotify_mark %s 0x%x 0x%llx: %s", path, flags, (unsigned long long)mask,
		     strerror(errno));
}

/* Reads A's events (queued by the calls that made them) until none is
 * left; the mask of those on INO. */
static uint64_t events_on(ino_t ino)
{
	static char buf[65536] __attribute__((aligned(8)));
	uint64_t seen = 0;

	for (;;) {
		ssize_t n = read(grp[A], buf, sizeof(buf));

		if (n < 0 && errno == EAGAIN)
			return seen;
		if (n <= 0)
			fail("read group A: %s", strerror(errno));
		for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n);
		     m = FAN_EVENT_NEXT(m, n)) {
			struct stat st;

			if (m->fd >= 0 && !fstat(m->fd, &st) && st.st_ino == ino)
				seen |= m->mask;
			if (m->fd >= 0)
				close(m->fd);
		}
	}
}

static void check_events(void)
{
	struct pollfd pfd = { .fd = grp[B], .events = POLLIN };
	struct fanotify_event_metadata *m;
	char buf[4096] __attribute__((aligned(8))), path[4096 + 32];
	struct stat f, g;
	uint64_t seen;
	int fd;

	if (stat(f_path, &f) || stat(g_path, &g))
		fail("stat: %s", strerror(errno));
	fd = open(f_path, O_WRONLY);
	if (fd < 0 || write(fd, "x", 1) != 1 || close(fd))
		fail("write %s: %s", f_path, strerror(errno));
	seen = events_on(f.st_ino);
	if (!(seen & FAN_MODIFY) || !(seen & FAN_CLOSE_WRITE))
		fail("F: events 0x%llx, no modify and close-write", (unsigned long long)seen);
	fd = open(g_path, O_RDONLY);
	if (fd < 0 || close(fd))
		fail("open %s: %s", g_path, strerror(errno));
	seen = events_on(g.st_ino);
	if (!(seen & FAN_OPEN) || (seen & FAN_CLOSE_NOWRITE))
		fail("G: events 0x%llx: no open, or the ignored close", (unsigned long long)seen);
	/* A file of its own: the original of a dump -R made one too. */
	snprintf(path, sizeof(path), "%s/new-%llu", dir, (unsigned long long)test_now_ns());
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	if (fd < 0)
		fail("create %s: %s", path, strerror(errno));
	close(fd);
	if (poll(&pfd, 1, 5000) != 1 || read(grp[B], buf, sizeof(buf)) <= 0)
		fail("group B: no event for %s", path);
	m = (void *)buf;
	if (!(m->mask & FAN_CREATE))
		fail("group B: event 0x%llx, not a create", (unsigned long long)m->mask);
}

int main(int argc, char **argv)
{
	char now[INFO_MAX];
	bool same_ns;
	int fd;

	test_init(argc, argv);
	mnt_ns = mnt_ns_now();
	test_path(dir, sizeof(dir), "");
	test_path(f_path, sizeof(f_path), "f");
	test_path(g_path, sizeof(g_path), "g");
	fd = open(f_path, O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || close(fd) || (fd = open(g_path, O_CREAT | O_WRONLY, 0600)) < 0 || close(fd))
		fail("create the files: %s", strerror(errno));
	grp[A] = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
	grp[B] = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME, O_RDONLY);
	if (grp[A] < 0 || grp[B] < 0)
		fail("fanotify_init: %s", strerror(errno));
	mark(grp[A], 0, FAN_MODIFY | FAN_CLOSE_WRITE, f_path);
	mark(grp[A], 0, FAN_OPEN | FAN_CLOSE_NOWRITE, g_path);
	mark(grp[A], FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_CLOSE_NOWRITE,
	     g_path);
	mark(grp[A], FAN_MARK_MOUNT, FAN_OPEN_EXEC, "/dev/shm");
	mark(grp[A], FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC, "/dev/shm");
	mark(grp[B], 0, FAN_CREATE, dir);
	for (int i = 0; i < NR; i++) {
		marks_of(grp[i], info[i][0], false);
		marks_of(grp[i], info[i][1], true);
	}

	test_waitsig();

	same_ns = mnt_ns == mnt_ns_now();
	for (int i = 0; i < NR; i++) {
		marks_of(grp[i], now, same_ns);
		if (strcmp(now, info[i][same_ns]))
			fail("group %d now shows\n%swas\n%s", i, now, info[i][same_ns]);
	}
	check_events();
	pass();
}
