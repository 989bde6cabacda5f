/* In a network namespace of its own, a NETLINK_NETFILTER socket at fd 7
 * bound to NFQUEUE queue 7 (NF_KIND=queue) or NFLOG group 7 (NF_KIND=log),
 * as a program that takes packets from netfilter does.  Closing the
 * socket ends the binding and a restore would not make it again: the
 * dump must refuse it.  It counts until SIGTERM, then checks that
 * /proc/net/netfilter still lists the binding with its port id. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>

#include "test.h"

#define NUM 7

static uint32_t port_of(int fd)
{
	struct sockaddr_nl a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len))
		fail("getsockname: %s", strerror(errno));
	return a.nl_pid;
}

/* The config command BIND for NUM, acknowledged. */
static void bind_num(int fd, bool queue)
{
	struct {
		struct nlmsghdr nh;
		struct nfgenmsg g;
		struct nlattr a;
		uint8_t cmd[4];
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
			.nlmsg_seq = 1 },
		.g = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0,
		       .res_id = htons(NUM) },
		.a = { .nla_len = sizeof(struct nlattr) + 4, .nla_type = NFQA_CFG_CMD },
		.cmd = { queue ? NFQNL_CFG_CMD_BIND : NFULNL_CFG_CMD_BIND },
	};
	struct {
		struct nlmsghdr nh;
		struct nlmsgerr e;
	} ack;

	req.nh.nlmsg_type = queue ? NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_CONFIG :
				    NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG;
	if (send(fd, &req, sizeof(req), 0) != sizeof(req) ||
	    recv(fd, &ack, sizeof(ack), 0) < (ssize_t)sizeof(ack))
		fail("bind %s %d: %s", queue ? "queue" : "log group", NUM, strerror(errno));
	if (ack.nh.nlmsg_type != NLMSG_ERROR || ack.e.error)
		fail("bind %s %d: %s", queue ? "queue" : "log group", NUM,
		     strerror(-ack.e.error));
}

static bool listed(const char *table, uint32_t port)
{
	char path[64], line[256];
	unsigned num, peer;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/net/netfilter/%s", table);
	f = fopen(path, "re");
	if (!f)
		fail("%s: %s", path, strerror(errno));
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%u %u", &num, &peer) == 2 && num == NUM && peer == port;
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	const char *kind = getenv("NF_KIND");
	bool queue = !kind || strcmp(kind, "log");
	const char *table = queue ? "nfnetlink_queue" : "nfnetlink_log";
	volatile uint64_t counter = 0;
	uint32_t port;
	int fd;

	test_init(argc, argv);
	if (unshare(CLONE_NEWNET))
		fail("a network namespace of its own: %s", strerror(errno));
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0 || dup2(fd, 7) != 7 || close(fd))
		fail("netlink socket: %s", strerror(errno));
	bind_num(7, queue);
	port = port_of(7);
	if (!listed(table, port))
		fail("%s does not list %d with port id %u", table, NUM, port);
	test_ready();
	while (test_go())
		counter++;
	if (!listed(table, port_of(7)))
		fail("%s no longer lists %d with port id %u", table, NUM, port_of(7));
	pass();
}
