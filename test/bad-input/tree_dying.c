/* A tree whose child may be killed during a dump: the root is plain, its
 * child runs three extra threads over 32 MiB it keeps writing (a dump of
 * it takes a while, and its main thread is the one a parasite runs in
 * while the others stay stopped).  The child's pid goes to
 * DIR/child.pid.  The root counts; after SIGTERM it passes if it still
 * counts, whatever became of the child (killed by the test), which it
 * reaps. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define AREA (32UL << 20)

static unsigned char *area;

static void *writer(void *arg)
{
	unsigned long i = (unsigned long)arg;

	for (;; i += 4096 * 7)
		area[i % AREA]++;
	return NULL;
}

static void __attribute__((noreturn)) child_main(void)
{
	pthread_t t;

	area = mmap(NULL, AREA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		_exit(1);
	memset(area, 1, AREA);
	for (unsigned long k = 1; k <= 3; k++)
		if (pthread_create(&t, NULL, writer, (void *)(k * 4096)))
			_exit(1);
	writer(NULL);
	_exit(0);
}

int main(int argc, char **argv)
{
	volatile unsigned long count = 0;
	char path[4096], buf[32];
	pid_t child;
	int fd, n;

	test_init(argc, argv);
	child = fork();
	if (child < 0)
		fail("fork: %s", strerror(errno));
	if (!child)
		child_main();
	test_path(path, sizeof(path), "child.pid");
	n = snprintf(buf, sizeof(buf), "%d\n", child);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, n) != n)
		fail("write %s: %s", path, strerror(errno));
	close(fd);
	usleep(200 * 1000); /* the child's memory in place */
	test_ready();
	while (test_go())
		count++;
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (!count)
		fail("the root did not count");
	pass();
}
