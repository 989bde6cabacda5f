/* Credentials per thread: after the restore each thread has the ids,
 * supplementary groups, capability sets (read with libcap), bounding
 * and ambient sets and securebits it had, and the main thread can still
 * use what it kept (it writes its verdict through CAP_DAC_OVERRIDE as
 * fsuid 1001).
 *   main:   uids 0/1000/0/1001, gids 2000/2001/2002/2003, groups
 *           100,200,300; cap_net_raw, cap_sys_time, cap_mknod dropped;
 *           cap_net_bind_service inheritable and ambient; cap_sys_boot and
 *           cap_mknod out of the bounding set; securebits
 *           NO_SETUID_FIXUP | KEEP_CAPS
 *   thread: uids 0/1500/0/1500 (so no effective capabilities), groups as
 *           main, gids 0 */
#include <errno.h>
#include <grp.h>
#include <linux/securebits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

struct creds {
	char status[1024]; /* Uid, Gid, Groups, Cap* lines of the thread */
	char caps[512];	   /* cap_to_text of cap_get_proc() */
	uint64_t bound, ambient;
	unsigned secbits;
	uid_t fsuid;
	gid_t fsgid;
};

static struct creds want[2], cur[2];
static volatile int req, done, go;

static void read_creds(struct creds *c)
{
	char buf[4096], *l, *save;
	cap_t caps = cap_get_proc();
	char *text = caps ? cap_to_text(caps, NULL) : NULL;
	ssize_t n = test_read_file("/proc/thread-self/status", buf, sizeof(buf) - 1);

	memset(c, 0, sizeof(*c));
	if (n <= 0 || !text)
		return;
	buf[n] = '\0';
	for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "Uid:", 4) || !strncmp(l, "Gid:", 4) || !strncmp(l, "Groups:", 7) ||
		    !strncmp(l, "Cap", 3))
			snprintf(c->status + strlen(c->status),
				 sizeof(c->status) - strlen(c->status), "%s;", l);
	snprintf(c->caps, sizeof(c->caps), "%s", text);
	cap_free(text);
	cap_free(caps);
	for (cap_value_t v = 0; v < cap_max_bits(); v++) {
		if (cap_get_bound(v) == 1)
			c->bound |= 1ULL << v;
		if (cap_get_ambient(v) == 1)
			c->ambient |= 1ULL << v;
	}
	c->secbits = cap_get_secbits();
	/* An invalid id changes nothing and says the current one. */
	c->fsuid = syscall(SYS_setfsuid, -1);
	c->fsgid = syscall(SYS_setfsgid, -1);
}

static void *thread(void *arg)
{
	(void)arg;
	/* After main's setgroups(), which glibc runs in every thread: this
	 * thread will have no capability left for it. */
	while (!go)
		usleep(1000);
	/* The raw call changes this thread only (glibc's would change all). */
	if (syscall(SYS_setresuid, 0, 1500, 0))
		return NULL;
	for (;;) {
		if (done != req) {
			read_creds(&cur[1]);
			__atomic_store_n(&done, req, __ATOMIC_SEQ_CST);
		}
		usleep(2000);
	}
	return NULL;
}

static void ask_thread(void)
{
	uint64_t t0 = test_now_ns();

	req++;
	while (done != req) {
		if (test_now_ns() - t0 > 10000000000ULL)
			fail("the thread did not answer in 10 s");
		usleep(1000);
	}
}

static void drop_caps(void)
{
	static const cap_value_t drop[] = { CAP_NET_RAW, CAP_SYS_TIME, CAP_MKNOD };
	static const cap_value_t inh[] = { CAP_NET_BIND_SERVICE };
	cap_t c = cap_get_proc();

	if (!c || cap_set_flag(c, CAP_EFFECTIVE, 3, drop, CAP_CLEAR) ||
	    cap_set_flag(c, CAP_PERMITTED, 3, drop, CAP_CLEAR) ||
	    cap_set_flag(c, CAP_INHERITABLE, 1, inh, CAP_SET) || cap_set_proc(c))
		fail("cap_set_proc: %s", strerror(errno));
	cap_free(c);
	if (cap_set_ambient(CAP_NET_BIND_SERVICE, CAP_SET) || cap_drop_bound(CAP_SYS_BOOT) ||
	    cap_drop_bound(CAP_MKNOD) ||
	    cap_set_secbits(SECBIT_NO_SETUID_FIXUP | SECBIT_KEEP_CAPS))
		fail("ambient, bounding set or securebits: %s", strerror(errno));
}

static void change_ids(void)
{
	static const gid_t groups[] = { 100, 200, 300 };

	if (setgroups(3, groups))
		fail("setgroups: %s", strerror(errno));
	if (syscall(SYS_setresgid, 2000, 2001, 2002) || syscall(SYS_setfsgid, 2003) < 0 ||
	    syscall(SYS_setresuid, 0, 1000, 0) || syscall(SYS_setfsuid, 1001) < 0)
		fail("setres[ug]id: %s", strerror(errno));
}

static void compare(const char *who, const struct creds *a, const struct creds *b)
{
	if (strcmp(a->status, b->status) || strcmp(a->caps, b->caps))
		fail("%s: \"%s\" \"%s\", were \"%s\" \"%s\"", who, a->status, a->caps, b->status,
		     b->caps);
	if (a->bound != b->bound || a->ambient != b->ambient || a->secbits != b->secbits ||
	    a->fsuid != b->fsuid || a->fsgid != b->fsgid)
		fail("%s: bounding %llx ambient %llx secbits %x fs %u/%u; were %llx %llx %x %u/%u",
		     who, (unsigned long long)a->bound, (unsigned long long)a->ambient, a->secbits,
		     a->fsuid, a->fsgid, (unsigned long long)b->bound,
		     (unsigned long long)b->ambient, b->secbits, b->fsuid, b->fsgid);
}

int main(int argc, char **argv)
{
	pthread_t th;

	test_init(argc, argv);
	if (pthread_create(&th, NULL, thread, NULL))
		fail("pthread_create");
	drop_caps();
	change_ids();
	go = 1;
	read_creds(&want[0]);
	ask_thread();
	want[1] = cur[1];
	if (!strstr(want[0].status, "Uid:\t0\t1000\t0\t1001") ||
	    !strstr(want[1].status, "Uid:\t0\t1500\t0\t1500") ||
	    !strstr(want[0].status, "Groups:\t100 200 300") || !want[0].ambient)
		fail("the credentials did not take: %s | %s", want[0].status, want[1].status);

	test_waitsig();

	read_creds(&cur[0]);
	compare("main thread", &cur[0], &want[0]);
	ask_thread();
	compare("thread", &cur[1], &want[1]);
	pass();
}
