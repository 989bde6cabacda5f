/* `lmproc migrate`: a dump's pages images sent while the dump writes them.
 * A thread follows the images' directory (inotify) and sends each
 * pages-PID.img as a streamed FILE (its size unknown: DATA until an empty
 * DATA) from the moment the dump creates it, so the copy out of the tree
 * and the transfer overlap instead of following each other (1 GiB: the
 * copy into tmpfs took 650 ms, then its send 1.2 s).  The channel is the
 * thread's alone from mig_stream_start to mig_stream_end; the dump's other
 * images, small, go after it (mig_stream_sent tells which went).  A file
 * the dump removed after it was streamed (a process that exited during a
 * pre-dump) is void at the destination: a FILE of size MIG_SIZE_DROPPED
 * names it. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "migrate.h"

/* How long the thread sleeps when the dump wrote nothing new (inotify
 * wakes it sooner). */
#define STREAM_POLL_MS 10

static bool streamed_name(const char *name)
{
	return !strncmp(name, "pages-", 6) && mig_name_ok(name);
}

static int index_of(const struct mig_stream *s, const char *name)
{
	for (unsigned int i = 0; i < s->nr; i++)
		if (!strcmp(s->names[i], name))
			return (int)i;
	return -1;
}

/* The dump made NAME (queued) or closed it (complete). */
static void note_event(struct mig_stream *s, const struct inotify_event *ev)
{
	int i;

	if (!ev->len || !streamed_name(ev->name))
		return;
	i = index_of(s, ev->name);
	if (i < 0 && (ev->mask & IN_CREATE) && s->nr < MIG_STREAM_MAX) {
		i = (int)s->nr++;
		snprintf(s->names[i], sizeof(s->names[i]), "%s", ev->name);
		s->closed[i] = false;
		s->gone[i] = false;
		s->sizes[i] = 0;
	}
	if (i >= 0 && (ev->mask & IN_CLOSE_WRITE))
		s->closed[i] = true;
}

static void read_events(struct mig_stream *s)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(s->ifd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			note_event(s, ev);
			p += sizeof(*ev) + ev->len;
		}
}

static int send_header(struct mig_stream *s, const char *name, uint64_t size)
{
	unsigned char hdr[8 + MIG_MAX_NAME];
	uint64_t le = htole64(size);
	size_t nl = strlen(name);

	memcpy(hdr, &le, 8);
	memcpy(hdr + 8, name, nl);
	return mig_send(s->chan, MIG_FILE, hdr, 8 + nl);
}

static int fail(struct mig_stream *s, int err, const char *what, const char *name)
{
	snprintf(s->why, sizeof(s->why), "%s %s (%s)", what, name, strerror(-err));
	s->err = err;
	return err;
}

/* One step of file I: what the dump has written of it since the last
 * step.  1: nothing new (and the dump still writes it); 0: progress. */
static int step(struct mig_stream *s, unsigned int i, bool dump_done)
{
	const char *name = s->names[i];
	ssize_t n;
	int ret;

	if (s->fd < 0) {
		s->fd = openat(s->dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		/* Removed by the dump before it went (its process exited):
		 * nothing of it to send, nor to void. */
		if (s->fd < 0 && errno == ENOENT) {
			s->gone[i] = true;
			s->next++;
			return 0;
		}
		if (s->fd < 0)
			return fail(s, -errno, "can't read the image", name);
		ret = send_header(s, name, MIG_SIZE_STREAMED);
		if (ret)
			return fail(s, ret, "the connection failed while sending", name);
	}
	n = read(s->fd, s->buf, MIG_MAX_CHUNK);
	if (n < 0)
		return fail(s, -errno, "can't read the image", name);
	if (n > 0) {
		s->bytes += n;
		s->sizes[i] += n;
		ret = mig_send(s->chan, MIG_DATA, s->buf, n);
		if (ret)
			return fail(s, ret, "the connection failed while sending", name);
		return 0;
	}
	/* Read to its end after the dump closed it: complete. */
	if (!s->closed[i] && !dump_done)
		return 1;
	close(s->fd);
	s->fd = -1;
	s->next++;
	ret = mig_send(s->chan, MIG_DATA, NULL, 0);
	return ret ? fail(s, ret, "the connection failed while sending", name) : 0;
}

static void *stream_thread(void *arg)
{
	struct mig_stream *s = arg;
	sigset_t all;

	/* lmproc's signals are the main thread's: an interrupt waits there
	 * for a safe point (interrupt.c), and none may cut a send here. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	for (;;) {
		/* Read before the events: whatever the dump made before it
		 * ended is among them. */
		bool done = __atomic_load_n(&s->dump_done, __ATOMIC_ACQUIRE);
		int ret = 1;

		read_events(s);
		if (s->next < s->nr)
			ret = step(s, s->next, done);
		if (ret < 0)
			break;
		if (!ret)
			continue;
		if (done && s->next == s->nr)
			break;
		poll((struct pollfd[]){ { .fd = s->ifd, .events = POLLIN },
					{ .fd = s->wake, .events = POLLIN } },
		     2, STREAM_POLL_MS);
	}
	return NULL;
}

int mig_stream_start(struct mig_stream *s, struct mig_chan *chan, const char *dir)
{
	*s = (struct mig_stream){ .chan = chan, .fd = -1, .ifd = -1, .dfd = -1, .wake = -1 };
	s->buf = malloc(MIG_MAX_CHUNK);
	s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	s->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!s->buf || s->dfd < 0 || s->ifd < 0 || s->wake < 0 ||
	    inotify_add_watch(s->ifd, dir, IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE) < 0 ||
	    (errno = pthread_create(&s->thr, NULL, stream_thread, s))) {
		pr_perror("Can't follow %s to stream its pages images", dir);
		mig_stream_end(s);
		return -EIO;
	}
	s->running = true;
	return 0;
}

/* Streamed files the dump removed since: void at the destination. */
static int send_drops(struct mig_stream *s)
{
	struct stat st;

	for (unsigned int i = 0; i < s->next && !s->err; i++) {
		if (s->gone[i] || !fstatat(s->dfd, s->names[i], &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (send_header(s, s->names[i], MIG_SIZE_DROPPED))
			return fail(s, -ECONNRESET, "the connection failed while voiding",
				    s->names[i]);
		s->gone[i] = true;
		s->voided_bytes += s->sizes[i];
	}
	return 0;
}

int mig_stream_end(struct mig_stream *s)
{
	if (s->running) {
		__atomic_store_n(&s->dump_done, true, __ATOMIC_RELEASE);
		/* The thread may be waiting for the dump's next write: the
		 * frozen time would wait with it. */
		if (eventfd_write(s->wake, 1))
			pr_perror("Can't wake the pages images' stream");
		pthread_join(s->thr, NULL);
		s->running = false;
		send_drops(s);
	}
	if (s->fd >= 0)
		close(s->fd);
	if (s->ifd >= 0)
		close(s->ifd);
	if (s->dfd >= 0)
		close(s->dfd);
	if (s->wake >= 0)
		close(s->wake);
	free(s->buf);
	s->fd = s->ifd = s->dfd = s->wake = -1;
	s->buf = NULL;
	return s->err;
}

bool mig_stream_sent(const struct mig_stream *s, const char *name)
{
	int i = s ? index_of(s, name) : -1;

	return i >= 0 && (unsigned int)i < s->next;
}

unsigned int mig_stream_files(const struct mig_stream *s)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < s->next; i++)
		n += !s->gone[i];
	return n;
}
