/* Owns the checks of this machine that a restore depends on, all made
 * before anything is started: the pid is free, the mapped and opened files
 * are the dumped ones, the vDSO has the dumped layout, the CPU saves the
 * same xsave area, the fd numbers fit the limits.  Also picks the signal
 * the restorer stops with.  Changes nothing (it may wait briefly for a
 * zombie to be reaped). */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

#include "common.h"
#include "file-valid.h"
#include "fs-ghost.h"
#include "kerndat.h"
#include "log.h"
#include "proc.h"
#include "restore.h"
#include "words.h"

/* A zombie left by a killing dump is reaped by its parent soon. */
#define ZOMBIE_WAIT_MS 2000
#define ZOMBIE_POLL_MS 10

static const char *const special_names[SPECIAL_NR] = {
    [SPECIAL_VVAR] = "[vvar]",
    [SPECIAL_VVAR_VCLOCK] = "[vvar_vclock]",
    [SPECIAL_VDSO] = "[vdso]",
};

const char *special_name(int idx)
{
	return special_names[idx];
}

int read_special_layout(pid_t pid, struct special_layout *l)
{
	cleanup_free char *buf = NULL;
	char path[64], *line, *save;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/maps");
	buf = proc_read_file(path, NULL);
	if (!buf) {
		pr_perror("Can't read %s", path);
		return -errno;
	}
	memset(l, 0, sizeof(*l));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long start, end;
		const char *name = strrchr(line, ' ');

		if (!name || sscanf(line, "%lx-%lx", &start, &end) != 2)
			continue;
		for (int i = 0; i < SPECIAL_NR; i++) {
			if (strcmp(name + 1, special_names[i]))
				continue;
			l->start[i] = start;
			l->end[i] = end;
		}
	}
	return 0;
}

static bool layout_empty(const struct special_layout *l)
{
	for (int i = 0; i < SPECIAL_NR; i++)
		if (l->start[i])
			return false;
	return true;
}

/* The three must come back together, at the dumped place, each of the
 * size this kernel makes: glibc holds pointers into the dumped vDSO. */
static int check_vdso(const struct special_layout *dumped, struct special_layout *here)
{
	int64_t delta = 0;
	bool first = true;
	int ret;

	ret = read_special_layout(0, here);
	if (ret || layout_empty(dumped))
		return ret;
	for (int i = 0; i < SPECIAL_NR; i++) {
		uint64_t size_here = here->end[i] - here->start[i];
		uint64_t size_dumped = dumped->end[i] - dumped->start[i];

		if (size_here != size_dumped) {
			pr_err("%s is %llu bytes on this kernel but %llu in the dump: the vDSO "
			       "differs, can't restore\n",
			       special_names[i], (unsigned long long)size_here,
			       (unsigned long long)size_dumped);
			return -EOPNOTSUPP;
		}
		if (!size_here)
			continue;
		if (!first && delta != (int64_t)(dumped->start[i] - here->start[i])) {
			pr_err("The dumped %s lies at another distance from the vDSO than on this "
			       "kernel: the vDSO layout differs, can't restore\n",
			       special_names[i]);
			return -EOPNOTSUPP;
		}
		delta = dumped->start[i] - here->start[i];
		first = false;
	}
	return 0;
}

/* Compares the dumped vDSO code with this kernel's, which is mapped in
 * lmproc at here->start[SPECIAL_VDSO]. */
static int check_vdso_code(const struct special_layout *here, const ProtobufCBinaryData *code)
{
	uint64_t start = here->start[SPECIAL_VDSO], len = here->end[SPECIAL_VDSO] - start;

	if (!start || code->len != len || memcmp((void *)start, code->data, len)) {
		pr_err("The vDSO of this kernel differs from the dumped one (%zu bytes here, %zu dumped): glibc's pointers into it would break; can't restore\n",
		       (size_t)len, (size_t)code->len);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* A vDSO of the same size but another build would send glibc's cached
 * pointers into the wrong code: compared byte for byte when the image
 * carries it, else the kernel release stands for it. */
static int check_kernel(const struct special_layout *dumped, const struct special_layout *here,
			const ProtobufCBinaryData *code, const char *release)
{
	struct utsname u;

	if (layout_empty(dumped))
		return 0;
	if (code)
		return check_vdso_code(here, code);
	if (!release || uname(&u))
		return 0;
	if (strcmp(u.release, release)) {
		pr_err("The dump was made on kernel %s, this is %s: its vDSO may differ; "
		       "restoring across kernels is not supported yet\n",
		       release, u.release);
		return -EOPNOTSUPP;
	}
	return 0;
}

int restore_check_vdso(const struct special_layout *dumped, struct special_layout *here,
		       const ProtobufCBinaryData *code, const char *release)
{
	return check_vdso(dumped, here) ?: check_kernel(dumped, here, code, release);
}

/* A killing dump leaves the pid to a dying task, then a zombie until its
 * parent reaps it: both go away on their own, so wait a little. */
int restore_check_pid_free(pid_t pid)
{
	struct proc_status st;

	if (pid == getpid()) {
		pr_err("pid %d is in use by lmproc itself\n", pid);
		return -EEXIST;
	}
	for (int waited = 0;; waited += ZOMBIE_POLL_MS) {
		int ret = proc_read_status(pid, &st);
		bool dying;

		if (ret == -ENOENT || ret == -ESRCH)
			return 0;
		if (ret) {
			pr_err("Can't tell whether pid %d is free: %s\n", pid, strerror(-ret));
			return ret;
		}
		dying = st.state == 'Z' || st.state == 'X' || proc_pid_exiting(pid);
		if (!dying || waited >= ZOMBIE_WAIT_MS)
			break;
		if (!waited)
			pr_info("Waiting for the exiting pid %d (%s) to be reaped\n", pid, st.comm);
		usleep(ZOMBIE_POLL_MS * 1000);
	}
	pr_err("pid %d is in use by %s%s\n", pid, st.comm,
	       st.state == 'Z' ? " (a zombie its parent has not reaped)" : "");
	return -EEXIST;
}

/* Appends "WHAT (WHY)" to the list of what is missing in BUF. */
static void add_missing(char *buf, size_t len, int *missing, const char *what, const char *why)
{
	size_t n = strlen(buf);

	if (n < len)
		snprintf(buf + n, len - n, "%s%s (%s)", (*missing)++ ? ", " : "missing: ", what,
			 why);
}

int restore_check_kernel(bool pidns, const char *tcp_repair_who, char *why, size_t len)
{
	struct kerndat kd;
	int missing = 0;

	why[0] = '\0';
	kerndat_probe(&kd);
	for (int f = 0; f < KD_NR_FEATURES; f++)
		if (kerndat_required(f) && !kd.feat[f].ok)
			add_missing(why, len, &missing, kerndat_feature_name(f), kd.feat[f].why);
	if (pidns && !kd.feat[KD_CAP_SYS_ADMIN].ok)
		add_missing(why, len, &missing, "CAP_SYS_ADMIN", "--pidns");
	if (!(kd.cap_eff >> CAP_NET_ADMIN & 1) && tcp_repair_who)
		add_missing(why, len, &missing, "CAP_NET_ADMIN", tcp_repair_who);
	if (!missing)
		snprintf(why, len, "every feature restore needs is there");
	return missing;
}

int restore_check_pids(const pid_t *pids, size_t n, bool pidns, char *why, size_t len)
{
	int ret = 0;

	if (pidns) {
		snprintf(why, len, "free in a new pid namespace (--pidns)");
		return 0;
	}
	why[0] = '\0';
	log_capture_start(why, len);
	for (size_t i = 0; i < n && !ret; i++)
		ret = restore_check_pid_free(pids[i]);
	log_capture_end();
	if (ret)
		snprintf(why + strlen(why), len - strlen(why),
			 " (restore with --pidns to take other pids)");
	else
		snprintf(why, len, "every dumped pid is free here");
	return ret;
}

struct words restore_mapper_words(const struct restore_plan *p, size_t i, const char *path)
{
	struct words w = { "" };
	size_t n = snprintf(w.s, sizeof(w.s), "pid %d maps %s", p->pid, path);

	for (size_t v = 0; v < p->mm->n_vmas && n < sizeof(w.s); v++) {
		const VmaEntry *e = p->mm->vmas[v];

		if (e->has_file && e->file == i) {
			snprintf(w.s + n, sizeof(w.s) - n, " at 0x%llx-0x%llx",
				 (unsigned long long)e->start, (unsigned long long)e->end);
			break;
		}
	}
	return w;
}

int restore_check_mapped_file(pid_t pid, const MappedFileEntry *f, enum file_valid_mode m,
			      const char *who)
{
	struct file_dumped d = file_dumped_mapped(f);

	if (f->ghost)
		return mem_ghost_check(pid, f);
	return file_valid_path(&d, false, m, who);
}

static int check_mapped_files(const struct restore_plan *p)
{
	for (size_t i = 0; i < p->mm->n_files; i++) {
		int ret = restore_check_mapped_file(p->pid, p->mm->files[i], p->tree->file_valid,
						    restore_mapper_words(p, i, p->mm->files[i]->path).s);

		if (ret)
			return ret;
	}
	return 0;
}

static int check_dir(pid_t pid, const char *what, const char *path)
{
	struct stat st;

	if (stat(path, &st)) {
		pr_perror("pid %d: can't find its dumped %s %s", pid, what, path);
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		pr_err("pid %d: its dumped %s %s is now %s, not a directory\n", pid, what, path,
		       file_kind_words(st.st_mode, NULL).s);
		return -ENOTDIR;
	}
	return 0;
}

/* The task gets every dumped fd number, and lmproc needs service fds above
 * them until the restorer closes them. */
static int check_fd_limit(const struct restore_plan *p)
{
	uint64_t need = p->nr_fds ? p->fds[p->nr_fds - 1]->fd + 1 : 0;
	struct rlimit rl;

	need += p->mm->n_files + 2 + RESTORE_PARKED_FDS;
	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		pr_perror("Can't read RLIMIT_NOFILE");
		return -errno;
	}
	if (need > rl.rlim_max) {
		pr_err("pid %d fd %u needs RLIMIT_NOFILE %llu, the hard limit here is %llu\n",
		       p->pid, p->fds[p->nr_fds - 1]->fd, (unsigned long long)need,
		       (unsigned long long)rl.rlim_max);
		return -EMFILE;
	}
	return 0;
}

/* PTRACE_SETREGSET wants exactly this kernel's xsave size, which is the
 * CPU's for the features it enabled in XCR0. */
int restore_check_xsave(pid_t pid, size_t len)
{
	unsigned int eax, ebx, ecx, edx;

	if (!__get_cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx))
		return 0;
	if (len != ebx) {
		pr_err("pid %d: its dumped FPU state (xsave) is %zu bytes, this CPU's is %u: "
		       "restoring on another CPU model is not supported yet\n", pid, len, ebx);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Any signal the task does not have queued, so raising it merges with
 * nothing; stop and continue signals would flush each other's queue. */
static int pick_stop_sig(struct restore_plan *p)
{
	static const int prefer[] = {SIGTRAP, SIGUSR1, SIGUSR2, SIGPWR, SIGWINCH, SIGSYS};
	const ThreadCoreEntry *tc = p->core->thread;
	uint64_t queued = 0;

	for (size_t i = 0; i < tc->n_pending; i++) {
		int sig;

		memcpy(&sig, tc->pending[i]->siginfo.data, sizeof(sig));
		queued |= 1ULL << (sig - 1);
	}
	for (size_t i = 0; i < ARRAY_SIZE(prefer); i++)
		if (!(queued & (1ULL << (prefer[i] - 1)))) {
			p->stop_sig = prefer[i];
			return 0;
		}
	for (int sig = SIGRTMIN; sig <= 64; sig++)
		if (!(queued & (1ULL << (sig - 1)))) {
			p->stop_sig = sig;
			return 0;
		}
	pr_err("pid %d has every signal queued: no signal left to stop the restorer with\n",
	       p->pid);
	return -EBUSY;
}

int restore_check_layout(struct restore_plan *p)
{
	return restore_check_vdso(&p->dumped, &p->here, p->mm->has_vdso ? &p->mm->vdso : NULL,
				  p->inv->kernel_release) ?:
	       restore_check_xsave(p->pid, p->core->thread->xsave.len);
}

int restore_check_paths(const struct restore_plan *p)
{
	int ret = check_mapped_files(p);

	if (!ret)
		ret = restore_check_files(p);
	if (!ret)
		ret = p->fs->has_cwd_deleted_perm ? fs_ghost_check(p->pid, p->fs) :
						    check_dir(p->pid, "cwd", p->fs->cwd);
	if (!ret)
		ret = check_dir(p->pid, "root", p->fs->root);
	if (!ret)
		ret = check_fd_limit(p);
	return ret;
}

int restore_check_machine(struct restore_plan *p)
{
	int ret = restore_check_layout(p);

	if (!ret)
		ret = restore_check_paths(p);
	if (!ret)
		ret = pick_stop_sig(p);
	return ret;
}
