/* A BPF map at fd 5 lmproc refuses, by BPF_MAP_REFUSE: "prog", a hash
 * map a loaded socket filter uses (attached to the UDP socket at fd 6,
 * its only holder); "queue", a map of type queue; "outside", a hash map
 * a process outside the tree holds too (a grandchild whose parent exited,
 * adopted by the runner, which the target kills at its end); "pinned", a
 * hash map pinned at BPF_PIN (a file in a BPF filesystem the test
 * mounted).
 * It counts until SIGTERM, then checks that the map still holds its
 * element. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "test.h"

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* A socket filter that loads map 5's address (and accepts everything). */
static void prog_using_map(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD,
		  .imm = 5 },
		{ 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0xffff },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a = { .prog_type = BPF_PROG_TYPE_SOCKET_FILTER, .insn_cnt = 4,
			     .insns = (unsigned long)insns, .license = (unsigned long)"GPL" };
	int prog = sys_bpf(BPF_PROG_LOAD, &a), fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (prog < 0 || fd < 0 || dup2(fd, 6) != 6 ||
	    setsockopt(6, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)))
		fail("a socket filter using the map: %s", strerror(errno));
	close(fd);
	close(prog);
}

/* A grandchild holding fd 5, outside the tree once its parent is
 * reaped; its pid. */
static pid_t orphan_holder(void)
{
	pid_t pid, g = 0;
	int p[2];

	if (pipe(p))
		fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		g = fork();
		if (g == 0) {
			for (;;)
				pause();
		}
		_exit(write(p[1], &g, sizeof(g)) == sizeof(g) && g > 0 ? 0 : 1);
	}
	if (read(p[0], &g, sizeof(g)) != sizeof(g) || waitpid(pid, NULL, 0) != pid)
		fail("the holder outside the tree: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	return g;
}

int main(int argc, char **argv)
{
	const char *mode = getenv("BPF_MAP_REFUSE") ?: "prog";
	bool queue = !strcmp(mode, "queue");
	union bpf_attr a = { .map_type = queue ? BPF_MAP_TYPE_QUEUE : BPF_MAP_TYPE_HASH,
			     .key_size = queue ? 0 : 4, .value_size = 4, .max_entries = 4 };
	volatile uint64_t counter = 0;
	uint32_t key = 1, val = 42, got = 0;
	pid_t holder = 0;
	int fd;

	test_init(argc, argv);
	fd = sys_bpf(BPF_MAP_CREATE, &a);
	if (fd < 0 || dup2(fd, 5) != 5)
		fail("BPF_MAP_CREATE: %s", strerror(errno));
	close(fd);
	memset(&a, 0, sizeof(a));
	a.map_fd = 5;
	a.key = queue ? 0 : (uintptr_t)&key;
	a.value = (uintptr_t)&val;
	if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a))
		fail("BPF_MAP_UPDATE_ELEM: %s", strerror(errno));
	if (!strcmp(mode, "outside")) {
		holder = orphan_holder();
	} else if (!strcmp(mode, "pinned")) {
		memset(&a, 0, sizeof(a));
		a.bpf_fd = 5;
		a.pathname = (uintptr_t)getenv("BPF_PIN");
		if (!a.pathname || sys_bpf(BPF_OBJ_PIN, &a))
			fail("BPF_OBJ_PIN at %s: %s", getenv("BPF_PIN"), strerror(errno));
		a.map_fd = 5;
		a.key = (uintptr_t)&key;
		a.value = (uintptr_t)&val;
	} else if (!queue) {
		prog_using_map();
	}
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	a.value = (uintptr_t)&got;
	if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) || got != val)
		fail("the map lost its element: %s, %u", strerror(errno), got);
	if (holder)
		kill(holder, SIGKILL);
	pass();
}
