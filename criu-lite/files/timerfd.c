/* Owns timerfds: clock, flags, interval, the time left until the next
 * expiration and the expirations not yet read, from fdinfo on dump.
 * Restore arms the timer with the time that was left (the time between
 * dump and restore does not count; an absolute timer gets "now + left" on
 * its clock) and gives the unread expirations back with
 * TFD_IOC_SET_TICKS. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "words.h"

/* include/uapi/linux/timerfd.h, whose includes clash with glibc's. */
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET (1 << 1)
#endif

#define TIMERFD_FLAGS (O_ACCMODE | O_NONBLOCK)
#define SETTIME_FLAGS (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)
#define NSEC 1000000000ULL
/* Longer than any timer lmproc sets: about 292 years. */
#define MAX_NS ((uint64_t)INT64_MAX)

static bool timerfd_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return !strcmp(p->link, "anon_inode:[timerfd]");
}

static int parse_timespec(const char *s, uint64_t *ns)
{
	unsigned long long sec, nsec;

	if (!s || sscanf(s, " (%llu, %llu)", &sec, &nsec) != 2 || nsec >= NSEC ||
	    sec > MAX_NS / NSEC - 1)
		return -EINVAL;
	*ns = sec * NSEC + nsec;
	return 0;
}

static int timerfd_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	TimerfdEntry t = TIMERFD_ENTRY__INIT;
	const char *clk = fdinfo_field(p->info, "clockid:");
	const char *ticks = fdinfo_field(p->info, "ticks:");
	const char *flags = fdinfo_field(p->info, "settime flags:");
	unsigned long long tk;
	unsigned int c, f;

	if (!clk || !ticks || !flags || sscanf(clk, "%u", &c) != 1 ||
	    sscanf(ticks, "%llu", &tk) != 1 || sscanf(flags, "%o", &f) != 1 ||
	    parse_timespec(fdinfo_field(p->info, "it_value:"), &t.value_ns) ||
	    parse_timespec(fdinfo_field(p->info, "it_interval:"), &t.interval_ns)) {
		pr_err("Can't parse the timerfd of pid %d fd %d in its fdinfo\n", d->pid, p->fd);
		return -EINVAL;
	}
	if (p->flags & ~TIMERFD_FLAGS)
		return files_refuse_flags(d, p, "a timerfd", TIMERFD_FLAGS);
	t.flags = p->flags;
	t.clockid = c;
	t.ticks = tk;
	t.settime_flags = f;
	fe->timerfd = &t;
	return files_write(d, fe);
}

static bool valid_clock(uint32_t c)
{
	return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC || c == CLOCK_BOOTTIME ||
	       c == CLOCK_REALTIME_ALARM || c == CLOCK_BOOTTIME_ALARM;
}

static int timerfd_validate(const FileEntry *f, uint64_t data_size)
{
	const TimerfdEntry *t = f->timerfd;

	(void)data_size;
	if (!t)
		return restore_plan_bad("files.img", "file id %u has no timerfd entry", f->id);
	if ((t->flags & ~TIMERFD_FLAGS) || (t->flags & O_ACCMODE) != O_RDWR ||
	    !valid_clock(t->clockid) || (t->settime_flags & ~SETTIME_FLAGS) ||
	    ((t->settime_flags & TFD_TIMER_CANCEL_ON_SET) &&
	     (!(t->settime_flags & TFD_TIMER_ABSTIME) ||
	      (t->clockid != CLOCK_REALTIME && t->clockid != CLOCK_REALTIME_ALARM))))
		return restore_plan_bad("files.img", "timerfd file id %u: flags %s, clock %s, "
					"settime flags 0%o", f->id, open_flags_words(t->flags).s,
					clock_words(t->clockid).s,
					t->settime_flags);
	if (t->value_ns > MAX_NS || t->interval_ns > MAX_NS)
		return restore_plan_bad("files.img", "timerfd file id %u: value %llu ns, "
					"interval %llu ns", f->id,
					(unsigned long long)t->value_ns,
					(unsigned long long)t->interval_ns);
	return 0;
}

static struct timespec ns_to_ts(uint64_t ns)
{
	return (struct timespec){ .tv_sec = ns / NSEC, .tv_nsec = ns % NSEC };
}

/* The clock an _ALARM clock reads. */
static clockid_t base_clock(uint32_t c)
{
	if (c == CLOCK_REALTIME_ALARM)
		return CLOCK_REALTIME;
	if (c == CLOCK_BOOTTIME_ALARM)
		return CLOCK_BOOTTIME;
	return c;
}

static int arm(struct task_files *tf, uint32_t desc, int fd, const TimerfdEntry *t)
{
	struct itimerspec its = { .it_interval = ns_to_ts(t->interval_ns),
				  .it_value = ns_to_ts(t->value_ns) };
	struct timespec now;

	if (t->value_ns && (t->settime_flags & TFD_TIMER_ABSTIME)) {
		if (clock_gettime(base_clock(t->clockid), &now))
			return task_files_err(tf, desc, "can't read clock %u: %s", t->clockid,
					      strerror(errno));
		its.it_value = ns_to_ts(min(t->value_ns, MAX_NS / 2) + now.tv_sec * NSEC +
					now.tv_nsec);
	}
	if (timerfd_settime(fd, t->settime_flags, &its, NULL))
		return task_files_err(tf, desc, "can't arm the timer (clock %s, flags 0%o): %s",
				      clock_words(t->clockid).s, t->settime_flags, strerror(errno));
	if (t->ticks && ioctl(fd, TFD_IOC_SET_TICKS, &t->ticks))
		return task_files_err(tf, desc, "can't give back %llu expirations: %s",
				      (unsigned long long)t->ticks, strerror(errno));
	return 0;
}

static int timerfd_open(struct task_files *tf, uint32_t desc)
{
	const TimerfdEntry *t = tf->plan->fdesc[desc].fe->timerfd;
	int flags = TFD_CLOEXEC | ((t->flags & O_NONBLOCK) ? TFD_NONBLOCK : 0);
	int fd = timerfd_create(t->clockid, flags), ret;

	if (fd < 0)
		return task_files_err(tf, desc, "can't create a timerfd on clock %u: %s",
				      t->clockid, strerror(errno));
	ret = arm(tf, desc, fd, t);
	if (ret) {
		close(fd);
		return ret;
	}
	return task_files_install(tf, desc, fd);
}

/* Clock and interval (the last line), not the time left, which moves. */
static uint64_t timerfd_share_key(const struct fd_parms *p)
{
	const char *c = fdinfo_field(p->info, "clockid:");

	return fdinfo_hash_from(p->info, "it_interval:") ^ (c ? strtoull(c, NULL, 10) : 0);
}

const struct fd_ops timerfd_fd_ops = {
	.type = FD_TYPE__FD_TIMERFD,
	.name = "timerfd",
	.share_key = timerfd_share_key,
	.match = timerfd_match,
	.dump = timerfd_dump,
	.validate = timerfd_validate,
	.open = timerfd_open,
};
