/* A process in namespaces of its own, made before it says it is ready,
 * by NS_MODE (ns-cases.sh):
 *   uts       a UTS namespace named "lmproc-ns-test" / "lmproc-ns-dom":
 *             after SIGTERM its names are still those
 *   time      a time namespace it entered, offsets 86400 s (monotonic) and
 *             172800 s (boottime): after SIGTERM still those, and its
 *             clocks never went back
 *   timens    no namespace; restored with --timens, its clocks must have
 *             stood still while it was dumped (the case waits 1 s between
 *             dump and restore): each went on by at least 0.5 s less than
 *             CLOCK_REALTIME, and never back
 *   ipc       an IPC namespace with kernel.msgmni 77, kernel.shm_next_id
 *             4242 and kernel.shm_rmid_forced 1, holding a segment (id 5)
 *             it attaches and writes: after SIGTERM still those, the
 *             segment attached with its bytes
 *   ipc-shm   an IPC namespace holding an unattached SysV segment (key
 *             SHM_KEY, id 77, bytes in its first page): after SIGTERM the
 *             same
 *   mnt, user, time-children, ipc-shm-out, ipc-shm-forced, ipc-msg-big,
 *   ipc-mq    a mount or user namespace, a time namespace made for its
 *             children only, an IPC namespace holding a SysV segment that
 *             a process outside the tree attaches (a grandchild that left
 *             it, gone once the target is) or an unattached one with
 *             kernel.shm_rmid_forced set, a queue holding a message larger
 *             than kernel.msgmax (lowered since), or a POSIX message
 *             queue: the dump must refuse
 * It reads its clocks all the time, checking every step: the freeze is
 * the step with the longest CLOCK_REALTIME gap. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <mqueue.h>

#include "test.h"

#define NSEC 1000000000LL
#define MONO_OFF 86400
#define BOOT_OFF 172800
#define SHM_KEY 0x4c4e5348
#define SHM_ID 77

struct sample {
	int64_t mono, boot, real;
};

static int64_t ns_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static void take(struct sample *s)
{
	s->mono = ns_of(CLOCK_MONOTONIC);
	s->boot = ns_of(CLOCK_BOOTTIME);
	s->real = ns_of(CLOCK_REALTIME);
}

static void enter_time(void)
{
	char buf[96];
	int fd, len;

	if (unshare(CLONE_NEWTIME))
		fail("unshare(CLONE_NEWTIME): %s", strerror(errno));
	len = snprintf(buf, sizeof(buf), "monotonic %d 0\nboottime %d 0\n", MONO_OFF, BOOT_OFF);
	fd = open("/proc/self/timens_offsets", O_WRONLY);
	if (fd < 0 || write(fd, buf, len) != len)
		fail("timens_offsets: %s", strerror(errno));
	close(fd);
	fd = open("/proc/self/ns/time_for_children", O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWTIME))
		fail("entering the time namespace: %s", strerror(errno));
	close(fd);
}

static int write_sysctl(const char *name, const char *value)
{
	char path[128];
	int fd, len = strlen(value), ret;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ret = write(fd, value, len) == len ? 0 : -1;
	close(fd);
	return ret;
}

static void check_sysctl(const char *name, const char *want)
{
	char path[128], buf[64] = "";

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	if (test_read_file(path, buf, sizeof(buf) - 1) <= 0)
		fail("can't read %s", path);
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, want))
		fail("%s is %s, not %s", name, buf, want);
}

static void make_shm(void)
{
	char *m;

	if (write_sysctl("kernel/shm_next_id", "77") ||
	    shmget(SHM_KEY, 8192, IPC_CREAT | IPC_EXCL | 0640) != SHM_ID)
		fail("shmget: %s", strerror(errno));
	m = shmat(SHM_ID, NULL, 0);
	if (m == (void *)-1)
		fail("shmat: %s", strerror(errno));
	strcpy(m, "lmproc ipc-shm");
	shmdt(m);
}

static void check_shm(void)
{
	struct shmid_ds ds;
	char *m;

	if (shmget(SHM_KEY, 0, 0) != SHM_ID || shmctl(SHM_ID, IPC_STAT, &ds) ||
	    ds.shm_segsz != 8192 || (ds.shm_perm.mode & 0777) != 0640 || ds.shm_nattch)
		fail("segment key 0x%x: id %d: %s", SHM_KEY, shmget(SHM_KEY, 0, 0),
		     strerror(errno));
	m = shmat(SHM_ID, NULL, SHM_RDONLY);
	if (m == (void *)-1 || strcmp(m, "lmproc ipc-shm") || m[8191])
		fail("segment %d lost its bytes", SHM_ID);
	shmdt(m);
}

/* Queue 0 (a new namespace's first id) with a 100-byte message, then msgmax 16. */
static void big_msg(void)
{
	struct {
		long mtype;
		char text[100];
	} m = { .mtype = 1 };

	if (msgget(IPC_PRIVATE, IPC_CREAT | 0600) != 0 || msgsnd(0, &m, sizeof(m.text), 0) ||
	    write_sysctl("kernel/msgmax", "16"))
		fail("queue: %s", strerror(errno));
}

static char *forced_seg;

/* Segment 5, attached and written, then shm_rmid_forced: it goes with
 * its last detach. */
static void attach_forced(void)
{
	if (write_sysctl("kernel/shm_next_id", "5") ||
	    shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600) != 5)
		fail("shmget: %s", strerror(errno));
	forced_seg = shmat(5, NULL, 0);
	if (forced_seg == (void *)-1 || write_sysctl("kernel/shm_rmid_forced", "1"))
		fail("shmat or shm_rmid_forced: %s", strerror(errno));
	strcpy(forced_seg, "lmproc forced");
}

static void check_forced(void)
{
	struct shmid_ds ds;

	check_sysctl("kernel/shm_rmid_forced", "1");
	if (shmctl(5, IPC_STAT, &ds) || ds.shm_nattch != 1 || strcmp(forced_seg, "lmproc forced"))
		fail("segment 5 (shm_rmid_forced) lost: %s", strerror(errno));
	if (shmdt(forced_seg) || !shmctl(5, IPC_STAT, &ds))
		fail("segment 5 outlives its last detach under shm_rmid_forced");
}

/* A grandchild attaches segment ID and leaves the tree (its parent
 * exits): it lives while the target does. */
static void attach_outside(int id)
{
	pid_t target = getpid(), pid;
	int p[2];
	char c;

	if (id < 0 || pipe(p))
		fail("shmget: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (!pid) {
		if (fork())
			_exit(0);
		if (shmat(id, NULL, 0) == (void *)-1 || write(p[1], "a", 1) != 1)
			_exit(1);
		while (!kill(target, 0))
			usleep(50000);
		_exit(0);
	}
	if (waitpid(pid, NULL, 0) != pid || read(p[0], &c, 1) != 1)
		fail("the grandchild did not attach segment %d", id);
	close(p[0]);
	close(p[1]);
}

static void make_ns(const char *mode)
{
	if (!strcmp(mode, "uts")) {
		if (unshare(CLONE_NEWUTS) || sethostname("lmproc-ns-test", 14) ||
		    setdomainname("lmproc-ns-dom", 13))
			fail("UTS namespace: %s", strerror(errno));
	} else if (!strcmp(mode, "time")) {
		enter_time();
	} else if (!strcmp(mode, "mnt")) {
		if (unshare(CLONE_NEWNS))
			fail("unshare(CLONE_NEWNS): %s", strerror(errno));
	} else if (!strcmp(mode, "user")) {
		if (unshare(CLONE_NEWUSER))
			fail("unshare(CLONE_NEWUSER): %s", strerror(errno));
	} else if (!strncmp(mode, "ipc", 3)) {
		if (unshare(CLONE_NEWIPC))
			fail("unshare(CLONE_NEWIPC): %s", strerror(errno));
		if (!strcmp(mode, "ipc"))
			attach_forced();
		if (!strcmp(mode, "ipc") && (write_sysctl("kernel/msgmni", "77") ||
					     write_sysctl("kernel/shm_next_id", "4242")))
			fail("IPC sysctls: %s", strerror(errno));
		if (!strcmp(mode, "ipc-shm") || !strcmp(mode, "ipc-shm-forced"))
			make_shm();
		if (!strcmp(mode, "ipc-shm-forced") && write_sysctl("kernel/shm_rmid_forced", "1"))
			fail("shm_rmid_forced: %s", strerror(errno));
		if (!strcmp(mode, "ipc-msg-big"))
			big_msg();
		if (!strcmp(mode, "ipc-shm-out"))
			attach_outside(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
		/* The queue outlives its descriptor, in the namespace only. */
		if (!strcmp(mode, "ipc-mq")) {
			mqd_t q = mq_open("/lmproc-ns-test", O_CREAT | O_RDWR, 0600, NULL);

			if (q < 0 || mq_close(q))
				fail("mq_open: %s", strerror(errno));
		}
	} else if (!strcmp(mode, "time-children")) {
		if (unshare(CLONE_NEWTIME))
			fail("unshare(CLONE_NEWTIME): %s", strerror(errno));
	} else if (strcmp(mode, "timens")) {
		fail("unknown NS_MODE '%s'", mode);
	}
}

static void check_offsets(void)
{
	char buf[256], name[32];
	long long sec, nsec;
	int got = 0, at = 0, n;

	if (test_read_file("/proc/self/timens_offsets", buf, sizeof(buf) - 1) <= 0)
		fail("can't read timens_offsets");
	while (sscanf(buf + at, "%31s %lld %lld%n", name, &sec, &nsec, &n) == 3) {
		at += n;
		if (!strcmp(name, "monotonic") && sec == MONO_OFF && !nsec)
			got |= 1;
		if (!strcmp(name, "boottime") && sec == BOOT_OFF && !nsec)
			got |= 2;
	}
	if (got != 3)
		fail("time namespace offsets are not %d/%d: %s", MONO_OFF, BOOT_OFF, buf);
}

/* One step of the clocks between two readings: never back; the step
 * with the longest CLOCK_REALTIME gap (the freeze) kept in *FROZEN. */
static void step(const struct sample *a, const struct sample *b, struct sample *frozen)
{
	if (b->mono < a->mono || b->boot < a->boot)
		fail("a clock went back: monotonic by %lld ns, boottime by %lld ns",
		     (long long)(a->mono - b->mono), (long long)(a->boot - b->boot));
	if (b->real - a->real > frozen->real)
		*frozen = (struct sample){ b->mono - a->mono, b->boot - a->boot, b->real - a->real };
}

/* Under --timens the clocks stood still while the case waited 1 s. */
static void check_frozen(const char *mode, const struct sample *f)
{
	if (strcmp(mode, "timens"))
		return;
	if (f->real < NSEC)
		fail("the case did not wait 1 s (longest CLOCK_REALTIME step %lld ns)",
		     (long long)f->real);
	if (f->mono > f->real - NSEC / 2 || f->boot > f->real - NSEC / 2)
		fail("the clocks ran while dumped: monotonic +%lld ns, boottime +%lld ns, realtime "
		     "+%lld ns", (long long)f->mono, (long long)f->boot, (long long)f->real);
}

int main(int argc, char **argv)
{
	const char *mode = getenv("NS_MODE");
	struct sample last, now, frozen = {};
	struct utsname u;

	test_init(argc, argv);
	if (!mode)
		fail("NS_MODE not set");
	make_ns(mode);
	take(&last);
	test_ready();
	/* 2 ms of readings in every 3: CPU time the runner sees (a period
	 * no tick rate divides). */
	while (test_go()) {
		struct timespec d = { 0, 1000000 };
		int64_t end = last.mono + 2000000;

		do {
			take(&now);
			step(&last, &now, &frozen);
			last = now;
		} while (now.mono < end && now.mono >= last.mono && test_go());
		nanosleep(&d, NULL);
	}
	take(&now);
	step(&last, &now, &frozen);
	check_frozen(mode, &frozen);
	if (!strcmp(mode, "time"))
		check_offsets();
	if (!strcmp(mode, "ipc-shm"))
		check_shm();
	if (!strcmp(mode, "ipc")) {
		check_sysctl("kernel/msgmni", "77");
		check_sysctl("kernel/shm_next_id", "4242");
		check_forced();
	}
	if (!strcmp(mode, "uts") && (uname(&u) || strcmp(u.nodename, "lmproc-ns-test") ||
				     strcmp(u.domainname, "lmproc-ns-dom")))
		fail("UTS names are %s / %s", u.nodename, u.domainname);
	pass();
}
