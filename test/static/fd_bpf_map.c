/* BPF maps no program uses: fd 5 a hash map (BPF_F_NO_PREALLOC, 40 of
 * 64 elements), fd 6 an array, fd 7 a frozen array, fd 8 a per-CPU hash
 * map, fd 9 an LRU hash map (12 of 16: an update of a full one may evict
 * another element), fd 10 one with a list per CPU (4 of 16, within one
 * CPU's share), their contents from the run's seed.
 * After the restore each reads back exactly: type, key and value sizes,
 * max_entries, map_flags, name, frozen state, every element and no other;
 * then each still takes an update and a delete (the frozen one refuses
 * the update with EPERM). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "test.h"

#define MAX_CPUS 256

struct map_def {
	int fd;
	uint32_t type, key_size, value_size, max_entries, flags, nr;
	const char *name;
	bool frozen;
};

static struct map_def maps[] = {
	{ 5, BPF_MAP_TYPE_HASH, 8, 24, 64, BPF_F_NO_PREALLOC, 40, "lm_hash", false },
	{ 6, BPF_MAP_TYPE_ARRAY, 4, 16, 32, 0, 32, "lm_array", false },
	{ 7, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, 4, "lm_frozen", true },
	{ 8, BPF_MAP_TYPE_PERCPU_HASH, 4, 12, 16, 0, 5, "lm_pcpu", false },
	{ 9, BPF_MAP_TYPE_LRU_HASH, 4, 4, 16, 0, 12, "lm_lru", false },
	{ 10, BPF_MAP_TYPE_LRU_HASH, 4, 4, 16, BPF_F_NO_COMMON_LRU, 4, "lm_lru_cpu", false },
};

static uint64_t seed;
static int nr_cpus;

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int possible_cpus(void)
{
	char buf[64];
	int a, b;
	ssize_t n = test_read_file("/sys/devices/system/cpu/possible", buf, sizeof(buf) - 1);

	if (n <= 0)
		fail("can't read the possible CPUs");
	buf[n] = '\0';
	if (sscanf(buf, "%d-%d", &a, &b) == 2 && !a && b < MAX_CPUS)
		return b + 1;
	if (sscanf(buf, "%d", &a) == 1 && !a)
		return 1;
	fail("possible CPUs %s: not 0-N below %d", buf, MAX_CPUS);
}

static uint32_t vlen(const struct map_def *m)
{
	return m->type == BPF_MAP_TYPE_PERCPU_HASH ? ((m->value_size + 7) & ~7U) * nr_cpus :
						     m->value_size;
}

/* Element I of M: its key, and its value (bytes from the seed). */
static void elem(const struct map_def *m, uint32_t i, uint8_t *key, uint8_t *val, uint64_t gen)
{
	uint64_t k = m->key_size == 4 ? i : test_mix(seed ^ i) | 1;

	if (m->type == BPF_MAP_TYPE_LRU_HASH || m->type == BPF_MAP_TYPE_PERCPU_HASH)
		k = 1000 + i * 7;
	memcpy(key, &k, m->key_size);
	memset(val, 0, vlen(m));
	for (uint32_t b = 0; b < vlen(m); b++)
		if (m->type != BPF_MAP_TYPE_PERCPU_HASH || b % 16 < m->value_size)
			val[b] = test_mix(seed + gen + m->fd * 1000003ULL + i * 131ULL + b) >> 7;
}

static void make_map(const struct map_def *m)
{
	union bpf_attr a = { .map_type = m->type, .key_size = m->key_size,
			     .value_size = m->value_size, .max_entries = m->max_entries,
			     .map_flags = m->flags };
	uint8_t key[8], val[16 * MAX_CPUS];
	int fd;

	strncpy(a.map_name, m->name, sizeof(a.map_name) - 1);
	fd = sys_bpf(BPF_MAP_CREATE, &a);
	if (fd < 0 || dup2(fd, m->fd) != m->fd)
		fail("BPF map %s at fd %d: %s", m->name, m->fd, strerror(errno));
	close(fd);
	for (uint32_t i = 0; i < m->nr; i++) {
		elem(m, i, key, val, 0);
		memset(&a, 0, sizeof(a));
		a.map_fd = m->fd;
		a.key = (uintptr_t)key;
		a.value = (uintptr_t)val;
		if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a))
			fail("filling %s: %s", m->name, strerror(errno));
	}
	memset(&a, 0, sizeof(a));
	a.map_fd = m->fd;
	if (m->frozen && sys_bpf(BPF_MAP_FREEZE, &a))
		fail("freezing %s: %s", m->name, strerror(errno));
}

static void check_info(const struct map_def *m)
{
	struct bpf_map_info info = { 0 };
	union bpf_attr a = { .info = { .bpf_fd = m->fd, .info_len = sizeof(info),
				       .info = (uintptr_t)&info } };
	char fdinfo[1024], want[32];

	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a))
		fail("info of fd %d: %s", m->fd, strerror(errno));
	if (info.type != m->type || info.key_size != m->key_size ||
	    info.value_size != m->value_size || info.max_entries != m->max_entries ||
	    info.map_flags != m->flags || strcmp(info.name, m->name))
		fail("fd %d: type %u key %u value %u max %u flags %#x name %s; expected %s", m->fd,
		     info.type, info.key_size, info.value_size, info.max_entries, info.map_flags,
		     info.name, m->name);
	test_read_fdinfo(m->fd, fdinfo, sizeof(fdinfo));
	snprintf(want, sizeof(want), "frozen:\t%d\n", m->frozen);
	if (!strstr(fdinfo, want))
		fail("fd %d: not %s: %s", m->fd, want, fdinfo);
}

static int lookup(const struct map_def *m, const uint8_t *key, uint8_t *val)
{
	union bpf_attr a = { .map_fd = m->fd, .key = (uintptr_t)key, .value = (uintptr_t)val };

	return sys_bpf(BPF_MAP_LOOKUP_ELEM, &a);
}

/* Every element is there with its value, and nothing else. */
static void check_elems(const struct map_def *m)
{
	uint8_t key[8], prev[8], val[16 * MAX_CPUS], got[16 * MAX_CPUS];
	union bpf_attr a = { .map_fd = m->fd, .next_key = (uintptr_t)key };
	uint32_t n = 0;

	for (uint32_t i = 0; i < m->nr; i++) {
		elem(m, i, key, val, 0);
		if (lookup(m, key, got) || memcmp(val, got, vlen(m)))
			fail("%s: element %u is %s", m->name, i,
			     errno == ENOENT ? "missing" : "changed");
	}
	while (!sys_bpf(BPF_MAP_GET_NEXT_KEY, &a)) {
		n++;
		memcpy(prev, key, m->key_size);
		a.key = (uintptr_t)prev;
	}
	if (errno != ENOENT || n != m->nr)
		fail("%s: %u elements (%s), not %u", m->name, n, strerror(errno), m->nr);
}

/* An update of element 0 reads back; a delete of the last one (hash
 * maps) is gone. */
static void check_updates(const struct map_def *m)
{
	uint8_t key[8], val[16 * MAX_CPUS], got[16 * MAX_CPUS];
	union bpf_attr a = { .map_fd = m->fd, .key = (uintptr_t)key, .value = (uintptr_t)val };
	int ret;

	elem(m, 0, key, val, 77);
	ret = sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
	if (m->frozen) {
		if (!ret || errno != EPERM)
			fail("%s: an update of the frozen map gave %s", m->name, strerror(errno));
		return;
	}
	if (ret || lookup(m, key, got) || memcmp(val, got, vlen(m)))
		fail("%s: an update does not read back: %s", m->name, strerror(errno));
	if (m->type == BPF_MAP_TYPE_ARRAY)
		return;
	elem(m, m->nr - 1, key, val, 0);
	memset(&a, 0, sizeof(a));
	a.map_fd = m->fd;
	a.key = (uintptr_t)key;
	if (sys_bpf(BPF_MAP_DELETE_ELEM, &a) || !lookup(m, key, got) || errno != ENOENT)
		fail("%s: a delete did not take: %s", m->name, strerror(errno));
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	seed = test_seed();
	nr_cpus = possible_cpus();
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		make_map(&maps[i]);

	test_waitsig();

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		check_info(&maps[i]);
		check_elems(&maps[i]);
		check_updates(&maps[i]);
	}
	pass();
}
