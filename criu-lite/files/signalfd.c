/* Owns signalfds: the signal mask and O_NONBLOCK, from fdinfo on dump.  A
 * signalfd holds no signals of its own (it reads its reader's queue), so
 * the mask is all there is to restore. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "words.h"

#define SIGNALFD_FLAGS (O_ACCMODE | O_NONBLOCK)

static bool signalfd_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return !strcmp(p->link, "anon_inode:[signalfd]");
}

static int signalfd_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	SignalfdEntry s = SIGNALFD_ENTRY__INIT;
	const char *mask = fdinfo_field(p->info, "sigmask:");
	unsigned long long m;

	if (!mask || sscanf(mask, "%llx", &m) != 1) {
		pr_err("Can't parse the signalfd of pid %d fd %d in its fdinfo\n", d->pid, p->fd);
		return -EINVAL;
	}
	if (p->flags & ~SIGNALFD_FLAGS)
		return files_refuse_flags(d, p, "a signalfd", SIGNALFD_FLAGS);
	s.flags = p->flags;
	s.sigmask = m;
	fe->signalfd = &s;
	return files_write(d, fe);
}

static int signalfd_validate(const FileEntry *f, uint64_t data_size)
{
	const SignalfdEntry *s = f->signalfd;

	(void)data_size;
	if (!s)
		return restore_plan_bad("files.img", "file id %u has no signalfd entry", f->id);
	if ((s->flags & ~SIGNALFD_FLAGS) || (s->flags & O_ACCMODE) != O_RDWR)
		return restore_plan_bad("files.img", "signalfd file id %u has flags %s", f->id,
					open_flags_words(s->flags).s);
	return 0;
}

static int signalfd_open(struct task_files *tf, uint32_t desc)
{
	const SignalfdEntry *s = tf->plan->fdesc[desc].fe->signalfd;
	int flags = SFD_CLOEXEC | ((s->flags & O_NONBLOCK) ? SFD_NONBLOCK : 0);
	sigset_t mask;
	int fd;

	/* Bit by bit, not sigaddset(), which refuses glibc's own signals. */
	sigemptyset(&mask);
	memcpy(&mask, &s->sigmask, sizeof(s->sigmask));
	fd = signalfd(-1, &mask, flags);
	if (fd < 0)
		return task_files_err(tf, desc, "can't create a signalfd for mask 0x%llx: %s",
				      (unsigned long long)s->sigmask, strerror(errno));
	return task_files_install(tf, desc, fd);
}

static uint64_t signalfd_share_key(const struct fd_parms *p)
{
	return fdinfo_hash_from(p->info, "sigmask:");
}

const struct fd_ops signalfd_fd_ops = {
	.type = FD_TYPE__FD_SIGNALFD,
	.name = "signalfd",
	.share_key = signalfd_share_key,
	.match = signalfd_match,
	.dump = signalfd_dump,
	.validate = signalfd_validate,
	.open = signalfd_open,
};
