/* Owns eventfds: the counter, EFD_SEMAPHORE and O_NONBLOCK, from fdinfo
 * on dump; restore creates the eventfd and writes the count into it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "words.h"

#define EVENTFD_FLAGS (O_ACCMODE | O_NONBLOCK)
/* The largest count an eventfd holds. */
#define EVENTFD_MAX 0xfffffffffffffffeULL

static bool eventfd_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return !strcmp(p->link, "anon_inode:[eventfd]");
}

static int eventfd_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	EventfdEntry e = EVENTFD_ENTRY__INIT;
	const char *count = fdinfo_field(p->info, "eventfd-count:");
	const char *sem = fdinfo_field(p->info, "eventfd-semaphore:");
	unsigned long long c;
	int s;

	if (!count || !sem || sscanf(count, "%llx", &c) != 1 || sscanf(sem, "%d", &s) != 1) {
		pr_err("Can't parse the eventfd of pid %d fd %d in its fdinfo\n", d->pid, p->fd);
		return -EINVAL;
	}
	if (p->flags & ~EVENTFD_FLAGS)
		return files_refuse_flags(d, p, "an eventfd", EVENTFD_FLAGS);
	e.flags = p->flags;
	e.count = c;
	e.semaphore = s;
	fe->eventfd = &e;
	return files_write(d, fe);
}

static int eventfd_validate(const FileEntry *f, uint64_t data_size)
{
	const EventfdEntry *e = f->eventfd;

	(void)data_size;
	if (!e)
		return restore_plan_bad("files.img", "file id %u has no eventfd entry", f->id);
	if ((e->flags & ~EVENTFD_FLAGS) || (e->flags & O_ACCMODE) != O_RDWR ||
	    e->count > EVENTFD_MAX)
		return restore_plan_bad("files.img", "eventfd file id %u: flags %s, count %llu",
					f->id, open_flags_words(e->flags).s, (unsigned long long)e->count);
	return 0;
}

static int eventfd_open(struct task_files *tf, uint32_t desc)
{
	const EventfdEntry *e = tf->plan->fdesc[desc].fe->eventfd;
	int flags = EFD_CLOEXEC | (e->semaphore ? EFD_SEMAPHORE : 0);
	int fd = eventfd(0, flags | ((e->flags & O_NONBLOCK) ? EFD_NONBLOCK : 0));
	uint64_t count = e->count;

	if (fd < 0)
		return task_files_err(tf, desc, "can't create an eventfd: %s", strerror(errno));
	if (count && write(fd, &count, sizeof(count)) != sizeof(count)) {
		close(fd);
		return task_files_err(tf, desc, "can't set its count to %llu: %s",
				      (unsigned long long)count, strerror(errno));
	}
	return task_files_install(tf, desc, fd);
}

static uint64_t eventfd_share_key(const struct fd_parms *p)
{
	const char *id = fdinfo_field(p->info, "eventfd-id:");

	return id ? strtoull(id, NULL, 10) + 1 : 0;
}

const struct fd_ops eventfd_fd_ops = {
	.type = FD_TYPE__FD_EVENTFD,
	.name = "eventfd",
	.share_key = eventfd_share_key,
	.match = eventfd_match,
	.dump = eventfd_dump,
	.validate = eventfd_validate,
	.open = eventfd_open,
};
