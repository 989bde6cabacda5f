/* A target lmproc cannot dump: its processes or threads are in different
 * cgroup namespaces, each rooted at the cgroups it was made in (none of
 * the test's own).  CGNS_SPLIT says how:
 *   child   the root is in lmproc's namespace, its child in one of its own;
 *   nested  the root is in a namespace of its own, its child in one below;
 *   thread  the root is in a namespace of its own, one of its threads in
 *           one below.
 * The child's pid or the thread's tid goes to DIR/split.id.  Everything
 * counts until SIGTERM (the root in a counter of its own); then the root
 * checks that the child or thread still counts, and ends it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static atomic_ulong *count; /* shared with the child */
static atomic_ulong root_count;
static atomic_int stop, thread_tid;
static int ready_pipe[2];

static void write_id(int id)
{
	char path[4096], buf[16];
	int fd;

	test_path(path, sizeof(path), "split.id");
	snprintf(buf, sizeof(buf), "%d\n", id);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf))
		fail("can't write %s: %s", path, strerror(errno));
	close(fd);
}

static void *thread_main(void *arg)
{
	char c = unshare(CLONE_NEWCGROUP) ? 'e' : 'r';

	(void)arg;
	atomic_store(&thread_tid, gettid());
	if (write(ready_pipe[1], &c, 1) != 1)
		return NULL;
	while (!atomic_load(&stop))
		atomic_fetch_add(count, 1);
	return NULL;
}

static void __attribute__((noreturn)) child_main(void)
{
	char c = unshare(CLONE_NEWCGROUP) ? 'e' : 'r';

	signal(SIGTERM, SIG_DFL);
	if (write(ready_pipe[1], &c, 1) != 1)
		_exit(1);
	for (;;)
		atomic_fetch_add(count, 1);
}

static void wait_ready(void)
{
	char c;

	while (read(ready_pipe[0], &c, 1) != 1)
		if (errno != EINTR)
			fail("no word from the child or thread: %s", strerror(errno));
	if (c != 'r')
		fail("the child or thread can't unshare its cgroup namespace");
}

int main(int argc, char **argv)
{
	const char *how = getenv("CGNS_SPLIT");
	pthread_t thread;
	pid_t child = 0;
	unsigned long before;

	test_init(argc, argv);
	if (!how || (strcmp(how, "child") && strcmp(how, "nested") && strcmp(how, "thread")))
		fail("CGNS_SPLIT is \"%s\", not child, nested or thread", how ? how : "");
	count = mmap(NULL, sizeof(*count), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (count == MAP_FAILED || pipe(ready_pipe))
		fail("setup: %s", strerror(errno));
	if (strcmp(how, "child") && unshare(CLONE_NEWCGROUP))
		fail("unshare(CLONE_NEWCGROUP): %s", strerror(errno));
	if (!strcmp(how, "thread")) {
		if (pthread_create(&thread, NULL, thread_main, NULL))
			fail("pthread_create failed");
		wait_ready();
		write_id(atomic_load(&thread_tid));
	} else {
		child = fork();
		if (child < 0)
			fail("fork: %s", strerror(errno));
		if (child == 0)
			child_main();
		wait_ready();
		write_id(child);
	}
	test_ready();
	while (test_go())
		atomic_fetch_add(&root_count, 1);

	before = atomic_load(count);
	for (int i = 0; i < 1000 && atomic_load(count) == before; i++)
		usleep(1000);
	if (atomic_load(count) == before)
		fail("the %s stopped counting", child ? "child" : "thread");
	if (child) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	} else {
		atomic_store(&stop, 1);
		pthread_join(thread, NULL);
	}
	pass();
}
