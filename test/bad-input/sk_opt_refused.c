/* A socket at fd 8 with an option lmproc can't set again, chosen by
 * SK_REFUSE: "bpf", a UDP socket bound to 127.0.0.1 with an eBPF filter
 * (SO_ATTACH_BPF, whose program can't be read back); "md5", a TCP
 * listener on 127.0.0.1 with a TCP MD5 key (TCP_MD5SIG, which can't be
 * read back).  The dump must be refused naming the fd and the option; the
 * socket keeps its option.  It counts in a busy loop until SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "test.h"

static int bpf_filter(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0xffff },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a = { .prog_type = BPF_PROG_TYPE_SOCKET_FILTER, .insn_cnt = 2,
			     .insns = (unsigned long)insns, .license = (unsigned long)"GPL" };
	int fd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));

	if (fd < 0)
		fail("BPF_PROG_LOAD: %s", strerror(errno));
	return fd;
}

static void make(const char *mode, struct sockaddr_in *a)
{
	struct tcp_md5sig m = { .tcpm_keylen = 4 };
	struct sockaddr_in *peer = (struct sockaddr_in *)&m.tcpm_addr;
	bool md5 = !strcmp(mode, "md5");
	int fd = socket(AF_INET, (md5 ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0), prog;

	if (fd < 0 || dup2(fd, 8) != 8 || bind(8, (struct sockaddr *)a, sizeof(*a)))
		fail("socket: %s", strerror(errno));
	close(fd);
	if (md5) {
		peer->sin_family = AF_INET;
		peer->sin_addr.s_addr = htonl(0x7f000002);
		memcpy(m.tcpm_key, "key!", 4);
		if (setsockopt(8, IPPROTO_TCP, TCP_MD5SIG, &m, sizeof(m)) || listen(8, 4))
			fail("TCP_MD5SIG: %s", strerror(errno));
		return;
	}
	prog = bpf_filter();
	if (setsockopt(8, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)))
		fail("SO_ATTACH_BPF: %s", strerror(errno));
	close(prog);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const char *mode = getenv("SK_REFUSE") ?: "bpf";
	volatile uint64_t counter = 0;
	socklen_t len = 0;
	int v = 0;

	test_init(argc, argv);
	make(mode, &a);
	test_ready();
	while (test_go())
		counter++;
	if (strcmp(mode, "md5") &&
	    (!getsockopt(8, SOL_SOCKET, SO_GET_FILTER, NULL, &len) || errno != EACCES))
		fail("the eBPF filter is gone");
	len = sizeof(v);
	if (!strcmp(mode, "md5") &&
	    (getsockopt(8, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) || v != 1))
		fail("the listener no longer listens");
	pass();
}
