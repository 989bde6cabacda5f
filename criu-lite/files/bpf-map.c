/* Owns BPF map fds (bpf(BPF_MAP_CREATE)): hash, array, their per-CPU
 * kinds and LRU hash maps, with their type, key and value sizes,
 * max_entries, flags, name, frozen state and elements.  Dump reads them
 * through lmproc's copy of the fd (BPF_OBJ_GET_INFO_BY_FD, then the
 * elements by BPF_MAP_LOOKUP_BATCH) into files-data.img; restore creates
 * the map in the task (libbpf's bpf_map_create), puts the elements back
 * (BPF_MAP_UPDATE_BATCH), then freezes it if it was.
 * A map a loaded program uses (the program would keep the old one), one a
 * process outside the tree holds or a BPF filesystem pins, one with BTF, one open through two open
 * file descriptions of the tree (one map would come back as two), other
 * map types and flags are refused.
 * The element order of a hash map and the recency of an LRU map's
 * elements are the kernel's and come back as it decides. */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "words.h"

#define BPF_MAP_FLAGS                                                                        \
	(BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_ZERO_SEED | BPF_F_RDONLY_PROG |    \
	 BPF_F_WRONLY_PROG)
/* The kernel's limits: a key lives on a program's stack; a value of a
 * hash map is at most KMALLOC_MAX_SIZE; ours is lower and still roomy. */
#define BPF_KEY_MAX 512
#define BPF_VALUE_MAX (1U << 20)
#define BPF_CPUS_MAX 8192

static bool map_type_ok(uint32_t t)
{
	return t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_ARRAY ||
	       t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static bool map_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static bool map_is_array(uint32_t t)
{
	return t == BPF_MAP_TYPE_ARRAY || t == BPF_MAP_TYPE_PERCPU_ARRAY;
}

static const char *map_type_words(uint32_t t)
{
	const char *s = libbpf_bpf_map_type_str(t);

	return s ? s : "unknown";
}

/* Bytes of one element's value as the syscall reads and writes it. */
static uint64_t value_len(uint32_t type, uint32_t value_size, uint32_t nr_cpus)
{
	return map_percpu(type) ? (uint64_t)((value_size + 7) & ~7U) * nr_cpus : value_size;
}

static bool bpf_map_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return !strcmp(p->link, "anon_inode:bpf-map");
}

static uint64_t bpf_map_share_key(const struct fd_parms *p)
{
	const char *id = fdinfo_field(p->info, "map_id:");

	return id ? strtoull(id, NULL, 10) + 1 : 0;
}

/* PROG's maps include map ID. */
static bool prog_uses(int prog, uint32_t id, struct bpf_prog_info *info)
{
	uint32_t len = sizeof(*info), n;
	cleanup_free uint32_t *ids = NULL;

	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(prog, info, &len) || !info->nr_map_ids)
		return false;
	n = info->nr_map_ids;
	ids = calloc(n, sizeof(*ids));
	if (!ids)
		return false;
	memset(info, 0, sizeof(*info));
	info->nr_map_ids = n;
	info->map_ids = (uintptr_t)ids;
	len = sizeof(*info);
	if (bpf_obj_get_info_by_fd(prog, info, &len))
		return false;
	for (uint32_t i = 0; i < min(n, info->nr_map_ids); i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Refuses map ID (of P) if a loaded program uses it. */
static int check_progs(const struct files_dump *d, const struct fd_parms *p, uint32_t id)
{
	uint32_t prog_id = 0;

	while (!bpf_prog_get_next_id(prog_id, &prog_id)) {
		struct bpf_prog_info info;
		int fd = bpf_prog_get_fd_by_id(prog_id);
		bool used;

		if (fd < 0)
			continue;
		used = prog_uses(fd, id, &info);
		close(fd);
		if (used) {
			pr_err("pid %d fd %d is a BPF map (id %u) that loaded BPF program %u "
			       "'%s' uses: a restored map would not be the program's, not "
			       "supported\n", d->pid, p->fd, id, prog_id, info.name);
			return -EOPNOTSUPP;
		}
	}
	if (errno != ENOENT) {
		pr_perror("Can't list the loaded BPF programs for pid %d fd %d", d->pid, p->fd);
		return -errno;
	}
	return 0;
}

/* An fd of a process outside the tree holding a BPF map, or (PIN) the
 * file pinning it in a BPF filesystem. */
struct bpf_holder {
	uint32_t map_id;
	pid_t pid;
	int fd;
	char *pin;
};

struct bpf_outside {
	struct bpf_holder *h;
	size_t nr, cap;
};

void bpf_map_dump_end(struct files_dump *d)
{
	if (!d->bpf_outside)
		return;
	for (size_t i = 0; i < d->bpf_outside->nr; i++)
		free(d->bpf_outside->h[i].pin);
	free(d->bpf_outside->h);
	free(d->bpf_outside);
	d->bpf_outside = NULL;
}

/* The map fd FD of process PID_DIR (/proc/PID) holds; 0 if it holds no
 * map. */
static uint32_t map_of(int pid_dir, const char *fd)
{
	char path[300], link[32], info[512];
	const char *s;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "fd/%s", fd);
	n = readlinkat(pid_dir, path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = '\0';
	if (strcmp(link, "anon_inode:bpf-map"))
		return 0;
	snprintf(path, sizeof(path), "fdinfo/%s", fd);
	f = openat(pid_dir, path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	n = read(f, info, sizeof(info) - 1);
	close(f);
	info[n > 0 ? n : 0] = '\0';
	s = fdinfo_field(info, "map_id:");
	return s ? strtoul(s, NULL, 10) : 0;
}

static int add_holder(struct bpf_outside *o, uint32_t id, pid_t pid, int fd, const char *pin)
{
	if (o->nr == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		struct bpf_holder *h = realloc(o->h, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		o->h = h;
		o->cap = cap;
	}
	o->h[o->nr] = (struct bpf_holder){ id, pid, fd, pin ? strdup(pin) : NULL };
	if (pin && !o->h[o->nr].pin)
		return -ENOMEM;
	o->nr++;
	return 0;
}

/* The maps process PID holds (its fds lmproc may read). */
static int scan_process(struct bpf_outside *o, int proc, const char *pid)
{
	int dir = openat(proc, pid, O_PATH | O_DIRECTORY | O_CLOEXEC), fdd, ret = 0;
	struct dirent *de;
	DIR *fds;

	if (dir < 0)
		return 0;
	fdd = openat(dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fds = fdd < 0 ? NULL : fdopendir(fdd);
	while (fds && !ret && (de = readdir(fds))) {
		uint32_t id = de->d_name[0] == '.' ? 0 : map_of(dir, de->d_name);

		if (id)
			ret = add_holder(o, id, atoi(pid), atoi(de->d_name), NULL);
	}
	if (fds)
		closedir(fds);
	else if (fdd >= 0)
		close(fdd);
	close(dir);
	return ret;
}

/* The map id of the object pinned at PATH; 0: not a map. */
static uint32_t pinned_map(const char *path)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	char link[32], proc[64];
	int fd = bpf_obj_get(path);
	ssize_t n;

	if (fd < 0)
		return 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	if (strcmp(link, "anon_inode:bpf-map") || bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

/* The maps pinned below DIR, a BPF filesystem's directory. */
static int scan_pins(struct bpf_outside *o, const char *dir, int depth)
{
	DIR *d = depth < 16 ? opendir(dir) : NULL;
	char path[PATH_MAX];
	struct dirent *de;
	uint32_t id;
	int ret = 0;

	while (d && !ret && (de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		if (de->d_type == DT_DIR) {
			ret = scan_pins(o, path, depth + 1);
			continue;
		}
		id = de->d_type == DT_REG ? pinned_map(path) : 0;
		if (id)
			ret = add_holder(o, id, 0, -1, path);
	}
	if (d)
		closedir(d);
	return ret;
}

/* mountinfo's octal escapes (\040 for a space) undone in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++, o++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o = *s;
		}
	}
	*o = '\0';
}

/* Every BPF filesystem mounted in the mount namespace of PID (0:
 * lmproc's), through PID's root. */
static int scan_bpffs(struct bpf_outside *o, pid_t pid)
{
	char path[64], mnt[PATH_MAX], dir[PATH_MAX + 64];
	char *line = NULL, *sep;
	size_t len = 0;
	int ret = 0;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/mountinfo");
	f = fopen(path, "re");
	while (f && !ret && getline(&line, &len, f) > 0) {
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "bpf ", 4) ||
		    sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		unescape(mnt);
		if (pid)
			snprintf(dir, sizeof(dir), "/proc/%d/root%s", pid, mnt);
		else
			snprintf(dir, sizeof(dir), "%s", mnt);
		ret = scan_pins(o, dir, 0);
	}
	free(line);
	if (f)
		fclose(f);
	return ret;
}

static bool in_tree(const struct files_dump *d, pid_t pid)
{
	for (size_t i = 0; i < d->nr_tree_pids; i++)
		if (d->tree_pids[i] == pid)
			return true;
	return false;
}

/* Every map fd of the processes outside the tree, and every map pinned
 * in a BPF filesystem of lmproc's or the dumped process's mount
 * namespace, once per dump: a restored map would not be shared with
 * them. */
static int scan_outside(struct files_dump *d)
{
	int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;
	struct dirent *de;
	DIR *dir;

	dir = proc < 0 ? NULL : fdopendir(proc);
	if (!dir) {
		pr_perror("Can't list the processes that may hold BPF maps");
		if (proc >= 0)
			close(proc);
		return -EIO;
	}
	d->bpf_outside = calloc(1, sizeof(*d->bpf_outside));
	if (!d->bpf_outside) {
		closedir(dir);
		return -ENOMEM;
	}
	while (!ret && (de = readdir(dir))) {
		pid_t pid = atoi(de->d_name);

		if (pid > 0 && pid != getpid() && !in_tree(d, pid))
			ret = scan_process(d->bpf_outside, dirfd(dir), de->d_name);
	}
	closedir(dir);
	return ret ?: scan_bpffs(d->bpf_outside, 0) ?: scan_bpffs(d->bpf_outside, d->pid);
}

static int check_holders(struct files_dump *d, const struct fd_parms *p, uint32_t id)
{
	int ret = d->bpf_outside ? 0 : scan_outside(d);

	for (size_t i = 0; !ret && i < d->bpf_outside->nr; i++) {
		const struct bpf_holder *h = &d->bpf_outside->h[i];

		if (h->map_id != id)
			continue;
		if (h->pin)
			pr_err("pid %d fd %d is a BPF map (id %u) pinned at %s: a restored map "
			       "would not be the pinned one, not supported\n",
			       d->pid, p->fd, id, h->pin);
		else
			pr_err("pid %d fd %d is a BPF map (id %u) that pid %d, outside the tree, holds "
			       "too (its fd %d): a restored map would not be shared with it, not "
			       "supported\n",
			       d->pid, p->fd, id, h->pid, h->fd);
		return -EOPNOTSUPP;
	}
	return ret;
}

static int check_info(struct files_dump *d, const struct fd_parms *p,
		      const struct bpf_map_info *i)
{
	const char *why = NULL;
	struct stat st = { .st_ino = i->id };
	bool first = false;

	if (!map_type_ok(i->type))
		why = "only hash, array, per-CPU hash and array and LRU hash maps are";
	else if (i->btf_id || i->btf_vmlinux_value_type_id)
		why = "a map with BTF is not";
	else if (i->ifindex)
		why = "a map offloaded to a device is not";
	else if (i->map_flags & ~BPF_MAP_FLAGS)
		why = "its map_flags are not";
	else if (i->map_extra)
		why = "map_extra is not";
	else if (!files_obj_id(d, FD_TYPE__FD_BPF_MAP, &st, &first))
		return -ENOMEM;
	else if (!first)
		why = "a map open through two open file descriptions of the tree is not";
	if (!why)
		return check_progs(d, p, i->id) ?: check_holders(d, p, i->id);
	pr_err("pid %d fd %d is a BPF map of type %s (id %u, name '%s', map_flags %#x): %s "
	       "supported\n", d->pid, p->fd, map_type_words(i->type), i->id, i->name, i->map_flags,
	       why);
	return -EOPNOTSUPP;
}

/* A batch of elements: keys, values and the two back to back (the
 * image's layout), sized for about a megabyte, at least BATCH_MIN. */
struct elem_batch {
	uint32_t n, key_size;
	uint64_t vlen;
	char *keys, *vals, *elems;
};

#define BATCH_MIN 64

static int batch_alloc(struct elem_batch *b, const BpfMapEntry *e)
{
	uint64_t elen;

	b->key_size = e->key_size;
	b->vlen = value_len(e->map_type, e->value_size, e->nr_cpus);
	elen = b->key_size + b->vlen;
	b->n = min((uint64_t)e->max_entries, max((uint64_t)BATCH_MIN, (1ULL << 20) / elen));
	b->keys = malloc(b->n * (uint64_t)b->key_size);
	b->vals = malloc(b->n * b->vlen);
	b->elems = malloc(b->n * elen);
	return b->keys && b->vals && b->elems ? 0 : -ENOMEM;
}

static void batch_free(struct elem_batch *b)
{
	free(b->keys);
	free(b->vals);
	free(b->elems);
}

/* Elements keys[i], vals[i] into elems, or back (TO_ELEMS false). */
static void batch_shuffle(struct elem_batch *b, uint32_t n, bool to_elems)
{
	for (uint32_t i = 0; i < n; i++) {
		char *el = b->elems + i * (b->key_size + b->vlen);
		char *k = b->keys + (uint64_t)i * b->key_size, *v = b->vals + i * b->vlen;

		if (to_elems) {
			memcpy(el, k, b->key_size);
			memcpy(el + b->key_size, v, b->vlen);
		} else {
			memcpy(k, el, b->key_size);
			memcpy(v, el + b->key_size, b->vlen);
		}
	}
}

/* Every element of map FD into files-data.img, a batch per
 * BPF_MAP_LOOKUP_BATCH (the token is a bucket or an index: 8 bytes). */
static int dump_batches(struct files_dump *d, const struct fd_parms *p, int fd, BpfMapEntry *e,
			struct elem_batch *b)
{
	uint64_t token[2], off;
	bool last = false;
	int ret;

	e->data_off = d->data_off;
	for (void *in = NULL; !last; in = &token[0]) {
		uint32_t n = b->n;

		if (bpf_map_lookup_batch(fd, in, &token[1], b->keys, b->vals, &n, NULL)) {
			if (errno != ENOENT) {
				pr_perror("Can't read the elements of BPF map '%s' of pid %d fd %d",
					  e->name, d->pid, p->fd);
				return -errno;
			}
			last = true;
		}
		token[0] = token[1];
		if (n > e->max_entries - e->nr_elems) {
			pr_err("pid %d fd %d: BPF map '%s' lists more than its %u elements\n",
			       d->pid, p->fd, e->name, e->max_entries);
			return -EIO;
		}
		e->nr_elems += n;
		batch_shuffle(b, n, true);
		ret = files_data_write(d, b->elems, n * (b->key_size + b->vlen), &off);
		if (ret)
			return ret;
	}
	return 0;
}

static int dump_elems(struct files_dump *d, const struct fd_parms *p, int fd, BpfMapEntry *e)
{
	struct elem_batch b = { 0 };
	int ret = batch_alloc(&b, e);

	if (!ret)
		ret = dump_batches(d, p, fd, e, &b);
	batch_free(&b);
	return ret;
}

static bool map_is_lru(uint32_t t)
{
	return t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* An LRU map with a list per CPU (BPF_F_NO_COMMON_LRU) takes at most its
 * CPU's share of max_entries from the one CPU restore fills it on. */
static int check_lru_share(const struct files_dump *d, const struct fd_parms *p,
			   const BpfMapEntry *e)
{
	int cpus = libbpf_num_possible_cpus();

	if (!map_is_lru(e->map_type) || !(e->map_flags & BPF_F_NO_COMMON_LRU) || cpus <= 0 ||
	    e->nr_elems <= e->max_entries / cpus)
		return 0;
	pr_err("pid %d fd %d is a BPF map of type %s ('%s') with a list per CPU holding %u of "
	       "%u elements: restore, on one CPU, could hold only %u, not supported\n", d->pid,
	       p->fd, map_type_words(e->map_type), e->name, e->nr_elems, e->max_entries,
	       e->max_entries / cpus);
	return -EOPNOTSUPP;
}

static int bpf_map_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	BpfMapEntry e = BPF_MAP_ENTRY__INIT;
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	const char *frozen = fdinfo_field(p->info, "frozen:");
	int fd, ret;

	if (p->flags != O_RDWR)
		return files_refuse_flags(d, p, "a BPF map", O_RDWR);
	fd = files_steal(d, p);
	if (fd < 0)
		return fd;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		ret = -errno;
		pr_perror("Can't read the BPF map of pid %d fd %d", d->pid, p->fd);
		goto out;
	}
	ret = check_info(d, p, &info);
	if (ret)
		goto out;
	e.flags = p->flags;
	e.map_type = info.type;
	e.key_size = info.key_size;
	e.value_size = info.value_size;
	e.max_entries = info.max_entries;
	e.map_flags = info.map_flags;
	e.name = info.name;
	e.frozen = frozen && atoi(frozen);
	if (map_percpu(info.type)) {
		e.has_nr_cpus = true;
		e.nr_cpus = libbpf_num_possible_cpus();
	}
	ret = dump_elems(d, p, fd, &e);
	if (!ret)
		ret = check_lru_share(d, p, &e);
	if (!ret) {
		fe->bpf_map = &e;
		ret = files_write(d, fe);
	}
out:
	close(fd);
	return ret;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n >= BPF_OBJ_NAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '_' || s[i] == '.' || (s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

static int bpf_map_validate(const FileEntry *f, uint64_t data_size)
{
	const BpfMapEntry *e = f->bpf_map;
	uint64_t elen;

	(void)data_size;
	if (!e)
		return restore_plan_bad("files.img", "file id %u has no bpf_map entry", f->id);
	if (e->flags != O_RDWR || !map_type_ok(e->map_type) || (e->map_flags & ~BPF_MAP_FLAGS) ||
	    !e->key_size || e->key_size > BPF_KEY_MAX || !e->value_size ||
	    e->value_size > BPF_VALUE_MAX || !e->max_entries || e->nr_elems > e->max_entries ||
	    (map_is_array(e->map_type) && (e->key_size != 4 || e->nr_elems != e->max_entries)) ||
	    map_percpu(e->map_type) != e->has_nr_cpus ||
	    (e->has_nr_cpus && (!e->nr_cpus || e->nr_cpus > BPF_CPUS_MAX)) || !name_ok(e->name))
		return restore_plan_bad("files.img", "BPF map file id %u: type %u, key %u, value "
					"%u, max_entries %u, %u elements, map_flags %#x",
					f->id, e->map_type, e->key_size, e->value_size,
					e->max_entries, e->nr_elems, e->map_flags);
	elen = e->key_size + value_len(e->map_type, e->value_size, e->nr_cpus);
	if (e->data_off > data_size || e->nr_elems > (data_size - e->data_off) / elen)
		return restore_plan_bad("files.img", "BPF map file id %u: %u elements of %llu "
					"bytes at %llu, beyond files-data.img's %llu", f->id,
					e->nr_elems, (unsigned long long)elen,
					(unsigned long long)e->data_off,
					(unsigned long long)data_size);
	return 0;
}

static int bpf_map_check(const struct restore_plan *p, uint32_t desc)
{
	const BpfMapEntry *e = p->fdesc[desc].fe->bpf_map;
	int cpus = libbpf_num_possible_cpus();

	if (!e->has_nr_cpus || cpus == (int)e->nr_cpus)
		return 0;
	pr_err("fd %d: per-CPU BPF map %s was dumped with %u possible CPUs, this machine has "
	       "%d\n", p->fdesc[desc].first_fd, e->name, e->nr_cpus, cpus);
	return -EOPNOTSUPP;
}

static int fill_batches(struct task_files *tf, uint32_t desc, int fd, const BpfMapEntry *e,
			struct elem_batch *b)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	uint64_t elen = b->key_size + b->vlen;
	off_t off = e->data_off;

	for (uint32_t done = 0, n; done < e->nr_elems; done += n, off += n * elen) {
		n = min(b->n, e->nr_elems - done);
		errno = 0;
		if (pread(tf->data_fd, b->elems, n * elen, off) != (ssize_t)(n * elen))
			return task_files_err(tf, desc, "can't read elements of BPF map %s: %s",
					      e->name, errno ? strerror(errno) : "short");
		batch_shuffle(b, n, false);
		if (bpf_map_update_batch(fd, b->keys, b->vals, &n, &opts))
			return task_files_err(tf, desc, "can't put element %u into BPF map %s: %s",
					      done + n, e->name, strerror(errno));
	}
	return 0;
}

static int fill(struct task_files *tf, uint32_t desc, int fd, const BpfMapEntry *e)
{
	struct elem_batch b = { 0 };
	int ret = batch_alloc(&b, e);

	if (ret)
		ret = task_files_err(tf, desc, "no memory for the elements of BPF map %s", e->name);
	else
		ret = fill_batches(tf, desc, fd, e, &b);
	batch_free(&b);
	return ret;
}

/* An LRU map takes free elements from the lists of the CPU it is filled
 * on and evicts before it takes another CPU's: the task stays on one CPU
 * meanwhile, and gets its affinity back after. */
static int fill_on_one_cpu(struct task_files *tf, uint32_t desc, int fd, const BpfMapEntry *e)
{
	cpu_set_t was, one;
	int cpu = sched_getcpu(), ret;

	CPU_ZERO(&one);
	if (cpu >= 0)
		CPU_SET(cpu, &one);
	if (cpu < 0 || sched_getaffinity(0, sizeof(was), &was) ||
	    sched_setaffinity(0, sizeof(one), &one))
		return task_files_err(tf, desc, "can't keep to one CPU to fill BPF map %s: %s",
				      e->name, strerror(errno));
	ret = fill(tf, desc, fd, e);
	if (sched_setaffinity(0, sizeof(was), &was) && !ret)
		ret = task_files_err(tf, desc, "can't set the affinity back after filling BPF "
				     "map %s: %s", e->name, strerror(errno));
	return ret;
}

/* An LRU map may evict while it is filled: every element must be there. */
static int count_elems(struct task_files *tf, uint32_t desc, int fd, const BpfMapEntry *e)
{
	cleanup_free char *buf = malloc(e->key_size * 2);
	char *key = buf, *prev = NULL;
	uint32_t n = 0;

	if (!buf)
		return task_files_err(tf, desc, "no memory for a key of BPF map %s", e->name);
	while (n <= e->nr_elems && !bpf_map_get_next_key(fd, prev, key)) {
		n++;
		prev = key;
		key = key == buf ? buf + e->key_size : buf;
	}
	if (n == e->nr_elems)
		return 0;
	errno = EIO;
	return task_files_err(tf, desc, "BPF map %s holds %u elements once filled, not %u",
			      e->name, n, e->nr_elems);
}

static int bpf_map_open(struct task_files *tf, uint32_t desc)
{
	const BpfMapEntry *e = tf->plan->fdesc[desc].fe->bpf_map;
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = e->map_flags);
	int fd = bpf_map_create(e->map_type, e->name, e->key_size, e->value_size, e->max_entries,
				&opts);
	int ret;

	if (fd < 0)
		return task_files_err(tf, desc, "can't create BPF map %s (type %s): %s", e->name,
				      map_type_words(e->map_type), strerror(errno));
	ret = map_is_lru(e->map_type) ? fill_on_one_cpu(tf, desc, fd, e) : fill(tf, desc, fd, e);
	if (!ret && !map_is_array(e->map_type))
		ret = count_elems(tf, desc, fd, e);
	if (!ret && e->frozen && bpf_map_freeze(fd))
		ret = task_files_err(tf, desc, "can't freeze BPF map %s: %s", e->name,
				     strerror(errno));
	if (ret) {
		close(fd);
		return ret;
	}
	return task_files_install(tf, desc, fd);
}

const struct fd_ops bpf_map_fd_ops = {
	.type = FD_TYPE__FD_BPF_MAP,
	.name = "BPF map",
	.share_key = bpf_map_share_key,
	.match = bpf_map_match,
	.dump = bpf_map_dump,
	.validate = bpf_map_validate,
	.check = bpf_map_check,
	.open = bpf_map_open,
};
