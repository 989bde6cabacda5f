/* A target lmproc cannot dump: one of its threads is in a cgroup of the
 * v1 pids hierarchy of its own (lmproc-cg-PID, listed in DIR/cgroups),
 * its process is not; the thread writes its tid to DIR/thread.tid.  Both
 * count until SIGTERM; then the main thread checks that both kept
 * counting, moves the thread back and removes the cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define V1_PIDS "/sys/fs/cgroup/pids"

static atomic_ulong thread_count;
static atomic_int thread_tid, stop;
static char dir[128];

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), ret = 0;

	if (fd < 0)
		return -1;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		ret = -1;
	return close(fd) ? -1 : ret;
}

static void *counter(void *arg)
{
	(void)arg;
	atomic_store(&thread_tid, gettid());
	while (!atomic_load(&stop))
		atomic_fetch_add(&thread_count, 1);
	return NULL;
}

/* Writes TID to the tasks file of the cgroup D. */
static int move_thread(const char *d, int tid)
{
	char path[4400], buf[16];

	snprintf(path, sizeof(path), "%s/tasks", d);
	snprintf(buf, sizeof(buf), "%d", tid);
	return write_str(path, buf);
}

/* The main thread's cgroup in the pids hierarchy, where the thread goes
 * back. */
static void home(char *buf, size_t size)
{
	char cg[4096], *p;
	ssize_t n = test_read_file("/proc/self/cgroup", cg, sizeof(cg) - 1);

	cg[n < 0 ? 0 : n] = 0;
	p = strstr(cg, ":pids:");
	if (!p)
		fail("no pids hierarchy in /proc/self/cgroup");
	p += 6;
	p[strcspn(p, "\n")] = 0;
	snprintf(buf, size, V1_PIDS "%s", strcmp(p, "/") ? p : "");
}

static void setup(int tid)
{
	char path[4096], buf[160];

	snprintf(dir, sizeof(dir), V1_PIDS "/lmproc-cg-%d", getpid());
	test_path(path, sizeof(path), "cgroups");
	snprintf(buf, sizeof(buf), "%s\n", dir);
	if (write_str(path, buf) || mkdir(dir, 0755))
		fail("can't make %s: %s", dir, strerror(errno));
	if (move_thread(dir, tid)) {
		rmdir(dir);
		fail("can't move thread %d into %s: %s", tid, dir, strerror(errno));
	}
	test_path(path, sizeof(path), "thread.tid");
	snprintf(buf, sizeof(buf), "%d\n", tid);
	if (write_str(path, buf))
		fail("can't write %s", path);
}

int main(int argc, char **argv)
{
	unsigned long before;
	char back[4200];
	sigset_t term;
	pthread_t t;
	int tid;

	test_init(argc, argv);
	home(back, sizeof(back));
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	if (pthread_create(&t, NULL, counter, NULL))
		fail("pthread_create: %s", strerror(errno));
	pthread_sigmask(SIG_UNBLOCK, &term, NULL);
	while (!(tid = atomic_load(&thread_tid)))
		usleep(1000);
	setup(tid);

	test_waitsig();
	before = atomic_load(&thread_count);
	usleep(50000);
	/* While it still runs: an exited thread can't be moved. */
	if (move_thread(back, tid) || rmdir(dir))
		fail("can't move thread %d back and remove %s: %s", tid, dir, strerror(errno));
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	if (atomic_load(&thread_count) == before)
		fail("the thread stopped counting");
	pass();
}
