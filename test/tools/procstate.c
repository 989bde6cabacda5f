/* procstate PID: prints the kernel-visible state of a task that a
 * checkpoint must preserve exactly, one item per line, for test/run.sh to
 * compare before and after (a shell version forked too much to be fast).
 * Only state that does not change by itself is printed: no times, no
 * run state, no parent pid. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/utsname.h>

static char path[512];

static const char *proc(const char *pid, const char *what)
{
	snprintf(path, sizeof(path), "/proc/%s/%s", pid, what);
	return path;
}

/* Reads a whole /proc file into a static buffer; length or -1. */
static ssize_t slurp(const char *file, char *buf, size_t size)
{
	FILE *f = fopen(file, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

static void print_link(const char *pid, const char *name)
{
	char target[4096];
	ssize_t n = readlink(proc(pid, name), target, sizeof(target) - 1);

	target[n < 0 ? 0 : n] = '\0';
	printf("%s %s\n", name, n < 0 ? strerror(errno) : target);
}

static int print_stat(const char *pid)
{
	static char buf[4096];
	char *f[64], *p;
	int n = 0;

	if (slurp(proc(pid, "stat"), buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return -1;
	/* f[0] is field 3 (state). */
	for (p = strtok(p + 2, " \n"); p && n < 64; p = strtok(NULL, " \n"))
		f[n++] = p;
	if (n < 49)
		return -1;
	printf("ids pgrp=%s session=%s nice=%s rt_priority=%s policy=%s stopped=%d\n", f[2], f[3],
	       f[16], f[37], f[38], f[0][0] == 'T');
	printf("mm start_code=%s end_code=%s start_stack=%s data=%s-%s", f[23], f[24], f[25],
	       f[42], f[43]);
	printf(" start_brk=%s args=%s-%s env=%s-%s\n", f[44], f[45], f[46], f[47], f[48]);
	return 0;
}

static void print_nul_list(const char *pid, const char *name, int checksum)
{
	static char buf[256 * 1024];
	ssize_t n = slurp(proc(pid, name), buf, sizeof(buf));
	unsigned long h = 5381;

	printf("%s ", name);
	for (ssize_t i = 0; i < n; i++) {
		if (checksum)
			h = h * 33 + (unsigned char)buf[i];
		else
			putchar(buf[i] ? buf[i] : ' ');
	}
	if (checksum)
		printf("%zd bytes, hash %lx", n, h);
	putchar('\n');
}

static void print_auxv(const char *pid)
{
	static unsigned long auxv[512];
	FILE *f = fopen(proc(pid, "auxv"), "r");
	size_t n = f ? fread(auxv, sizeof(auxv[0]), 512, f) : 0;

	if (f)
		fclose(f);
	printf("auxv");
	for (size_t i = 0; i + 1 < n; i += 2)
		printf(" %lx=%lx", auxv[i], auxv[i + 1]);
	putchar('\n');
}

static void print_status(const char *pid)
{
	static const char *const keep[] = { "Name:", "Umask:", "TracerPid:", "Uid:", "Gid:",
		"Groups:", "SigPnd:", "ShdPnd:", "SigBlk:", "SigIgn:", "SigCgt:", "CapInh:",
		"CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:",
		"Cpus_allowed_list:" };
	static char buf[16384];
	char *line, *save;

	if (slurp(proc(pid, "status"), buf, sizeof(buf)) <= 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if (!strncmp(line, keep[i], strlen(keep[i]))) {
				for (char *c = line; *c; c++)
					if (*c == '\t')
						*c = ' ';
				puts(line);
			}
}

static void print_file(const char *pid, const char *name)
{
	static char buf[1 << 20];

	if (slurp(proc(pid, name), buf, sizeof(buf)) > 0)
		fputs(buf, stdout);
}

/* A shared mapping's inode as the order of its first appearance: shared
 * memory objects (anonymous, memfd, a tmpfs file made again) and deleted
 * files get new inodes at a restore; which mappings share one object is
 * what counts. */
static void print_shared_vma(const char *line, unsigned long ino, const char *rest)
{
	static unsigned long seen[4096];
	static unsigned int nr_seen;
	char head[128];
	unsigned int i;
	int n = 0;

	if (sscanf(line, "%127s %*s %*s %*s %n", head, &n) < 1 || !n) {
		printf("%s", line);
		return;
	}
	for (i = 0; i < nr_seen && seen[i] != ino; i++)
		;
	if (i == nr_seen && nr_seen < sizeof(seen) / sizeof(seen[0]))
		seen[nr_seen++] = ino;
	printf("%.*s#%u %s", n, line, i, rest);
}

/* A file deleted while mapped is made again at a restore (new inode). */
static int is_deleted(const char *rest)
{
	size_t len = strlen(rest), n = strlen(" (deleted)");

	return len > n && !strcmp(rest + len - n, " (deleted)");
}

/* The next VMA of a smaps text at *POS: its maps line (NUL-terminated in
 * place) into *LINE and its VmFlags into *FLAGS; false at the end. */
static bool next_smaps_vma(char **pos, char **line, const char **flags)
{
	char *p = *pos, *nl;

	if (!p || !*p)
		return false;
	*line = p;
	*flags = "";
	nl = strchr(p, '\n');
	for (p = nl; p; p = nl) {
		*p++ = '\0';
		if (!*p || (isxdigit((unsigned char)*p) && strchr(p, '-') &&
			    strchr(p, '-') < strchr(p, ' ')))
			break;
		nl = strchr(p, '\n');
		if (!strncmp(p, "VmFlags:", 8)) {
			*flags = p + 9;
			if (nl)
				*nl = '\0';
		}
	}
	*pos = p;
	return true;
}

/* FLAGS without "uw": between pre-dump rounds lmproc's own dirty tracker
 * write-protects the task's memory with a userfaultfd, which is lmproc's
 * state, not the task's. */
static const char *own_flags(const char *flags)
{
	static char buf[256];
	const char *uw = strstr(flags, "uw ");

	if (!uw || (uw != flags && uw[-1] != ' '))
		return flags;
	snprintf(buf, sizeof(buf), "%.*s%s", (int)(uw - flags), flags, uw + 3);
	return buf;
}

/* /proc/PID/maps (from smaps, with each VMA's VmFlags) with neighbouring
 * anonymous VMAs of the same protection and flags printed as one: the
 * kernel keeps such neighbours apart or merges them by history (their
 * anon_vma), which a restore cannot reproduce and which nothing but maps
 * can see; zdtm compares maps the same way.  VmFlags are compared too:
 * mlock, madvise hints and the like show only there. */
static void print_maps(const char *pid)
{
	static char buf[4 << 20];
	unsigned long start = 0, end = 0, s, e, off, ino;
	char perms[5] = "", p[5], dev[16], rest[4096], vmf[256] = "";
	char *pos = buf, *line;
	const char *flags;
	int have = 0;

	if (slurp(proc(pid, "smaps"), buf, sizeof(buf)) <= 0)
		return;
	while (next_smaps_vma(&pos, &line, &flags)) {
		int n = 0, anon;

		rest[0] = '\0';
		if (sscanf(line, "%lx-%lx %4s %lx %15s %lu %n", &s, &e, p, &off, dev, &ino, &n) < 6)
			continue;
		flags = own_flags(flags);
		snprintf(rest, sizeof(rest), "%s", line + n);
		anon = ino == 0 && rest[0] == '\0';
		if (have && anon && s == end && !strcmp(p, perms) && !strcmp(flags, vmf)) {
			end = e;
			continue;
		}
		if (have)
			printf("%lx-%lx %s anon [%s]\n", start, end, perms, vmf);
		have = 0;
		if (anon) {
			start = s;
			end = e;
			snprintf(perms, sizeof(perms), "%s", p);
			snprintf(vmf, sizeof(vmf), "%s", flags);
			have = 1;
			continue;
		}
		if (p[3] == 's' || is_deleted(rest))
			print_shared_vma(line, ino, rest);
		else
			printf("%s", line);
		printf(" [%s]\n", flags);
	}
	if (have)
		printf("%lx-%lx %s anon [%s]\n", start, end, perms, vmf);
}

static int cmp_fd(const struct dirent **a, const struct dirent **b)
{
	return atoi((*a)->d_name) - atoi((*b)->d_name);
}

/* A pty restored as a new pair may get another number: "/dev/pts/7" is
 * printed as the order of its first appearance. */
static bool print_pts(const char *target)
{
	static unsigned long seen[256];
	static unsigned int nr_seen;
	unsigned long n;
	unsigned int i;
	char *end;

	if (strncmp(target, "/dev/pts/", 9) || !isdigit((unsigned char)target[9]))
		return false;
	n = strtoul(target + 9, &end, 10);
	if (*end)
		return false;
	for (i = 0; i < nr_seen && seen[i] != n; i++)
		;
	if (i == nr_seen && nr_seen < sizeof(seen) / sizeof(seen[0]))
		seen[nr_seen++] = n;
	printf("/dev/pts/#%u", i);
	return true;
}

/* An O_TMPFILE file, "DIR/#INO (deleted)", is made again with another
 * inode: printed as the order of its first appearance. */
static bool print_tmpfile(const char *target)
{
	static unsigned long seen[256];
	static unsigned int nr_seen;
	const char *hash = strrchr(target, '/');
	unsigned long ino;
	unsigned int i;
	char *end;

	if (!hash || hash[1] != '#' || !isdigit((unsigned char)hash[2]))
		return false;
	ino = strtoul(hash + 2, &end, 10);
	if (strcmp(end, " (deleted)"))
		return false;
	for (i = 0; i < nr_seen && seen[i] != ino; i++)
		;
	if (i == nr_seen && nr_seen < sizeof(seen) / sizeof(seen[0]))
		seen[nr_seen++] = ino;
	printf("%.*s/#tmpfile%u (deleted)", (int)(hash - target), target, i);
	return true;
}

/* "pipe:[1234]", "socket:[99]": inode numbers differ after a restore, so
 * each is printed as the order of its first appearance, which keeps
 * which fds share one object. */
static void print_target(const char *target)
{
	static unsigned long seen[65536];
	static unsigned int nr_seen;
	const char *br = strstr(target, ":[");
	unsigned long ino;
	unsigned int i;
	char *end;

	if (print_pts(target) || print_tmpfile(target))
		return;
	if (!br || (ino = strtoul(br + 2, &end, 10), *end != ']')) {
		printf("%s", target);
		return;
	}
	for (i = 0; i < nr_seen && seen[i] != ino; i++)
		;
	if (i == nr_seen && nr_seen < sizeof(seen) / sizeof(seen[0]))
		seen[nr_seen++] = ino;
	printf("%.*s:[#%u]", (int)(br - target), target, i);
}

static void print_fds(const char *pid)
{
	struct dirent **fds;
	char fdpath[300], target[4096], info[4096], *line, *save;
	int n = scandir(proc(pid, "fd"), &fds, NULL, cmp_fd);

	for (int i = 0; i < n; i++) {
		ssize_t len;

		if (fds[i]->d_name[0] == '.')
			goto next;
		snprintf(fdpath, sizeof(fdpath), "fd/%s", fds[i]->d_name);
		len = readlink(proc(pid, fdpath), target, sizeof(target) - 1);
		target[len < 0 ? 0 : len] = '\0';
		printf("fd %s ", fds[i]->d_name);
		print_target(target);
		snprintf(fdpath, sizeof(fdpath), "fdinfo/%s", fds[i]->d_name);
		if (slurp(proc(pid, fdpath), info, sizeof(info)) > 0)
			for (line = strtok_r(info, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save))
				if (!strncmp(line, "pos:", 4) || !strncmp(line, "flags:", 6))
					printf(" %s", line);
		putchar('\n');
next:
		free(fds[i]);
	}
	if (n >= 0)
		free(fds);
}

/* Which namespaces the task shares with procstate (the runner's, which
 * are lmproc's) and which are its own (not the same one after a restore,
 * but its own again), its time namespace's offsets and its host and
 * domain names (read inside its UTS namespace).  The pid namespace is
 * left out: --pidns restores into a new one on purpose. */
static void print_ns(const char *pid)
{
	static const char *const kinds[] = { "cgroup", "ipc", "mnt", "net", "time",
					     "time_for_children", "user", "uts" };
	struct utsname u;
	struct stat a, b;
	char buf[256];
	int fd;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char self[64];

		snprintf(self, sizeof(self), "/proc/self/ns/%s", kinds[i]);
		snprintf(buf, sizeof(buf), "ns/%s", kinds[i]);
		if (stat(proc(pid, buf), &a) || stat(self, &b))
			continue;
		printf("ns %s %s\n", kinds[i],
		       a.st_ino == b.st_ino && a.st_dev == b.st_dev ? "lmproc's" : "own");
	}
	if (slurp(proc(pid, "timens_offsets"), buf, sizeof(buf)) > 0) {
		for (char *c = buf; *c; c++)
			if (*c == '\n')
				*c = ' ';
		printf("timens_offsets %s\n", buf);
	}
	fd = open(proc(pid, "ns/uts"), O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !setns(fd, CLONE_NEWUTS) && !uname(&u))
		printf("uts %s %s\n", u.nodename, u.domainname);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	const char *pid;

	if (argc != 2) {
		fprintf(stderr, "usage: procstate PID\n");
		return 2;
	}
	pid = argv[1];
	if (print_stat(pid)) {
		fprintf(stderr, "procstate: no process %s\n", pid);
		return 1;
	}
	print_link(pid, "exe");
	print_link(pid, "cwd");
	print_link(pid, "root");
	print_nul_list(pid, "cmdline", 0);
	print_nul_list(pid, "environ", 1);
	print_auxv(pid);
	printf("personality ");
	print_file(pid, "personality");
	print_status(pid);
	print_maps(pid);
	print_fds(pid);
	print_ns(pid);
	return ferror(stdout) ? 1 : 0;
}
