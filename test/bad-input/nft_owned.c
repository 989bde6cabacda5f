/* In a network namespace of its own, a NETLINK_NETFILTER socket at fd 7
 * that made an nf_tables table it owns (NFT_TABLE_F_OWNER, as firewalld
 * or a container runtime's nft daemon does): the kernel deletes the table
 * when the socket closes and a restore would not make it again, so the
 * dump must refuse it.  It counts until SIGTERM, then checks that the
 * table is still there. */
#include <errno.h>
#include <stddef.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "test.h"

#define NAME "lmproc_owned"

struct table_msg {
	struct nlmsghdr nh;
	struct nfgenmsg g;
	struct nlattr name_a;
	char name[16];
	struct nlattr flags_a;
	uint32_t flags;
};

static void table_msg(struct table_msg *m, int type, int flags, uint32_t seq)
{
	memset(m, 0, sizeof(*m));
	m->nh = (struct nlmsghdr){ .nlmsg_len = sizeof(*m), .nlmsg_flags = NLM_F_REQUEST | flags,
				   .nlmsg_seq = seq,
				   .nlmsg_type = NFNL_SUBSYS_NFTABLES << 8 | type };
	m->g = (struct nfgenmsg){ .nfgen_family = NFPROTO_INET, .version = NFNETLINK_V0 };
	m->name_a = (struct nlattr){ .nla_len = sizeof(struct nlattr) + sizeof(NAME),
				     .nla_type = NFTA_TABLE_NAME };
	memcpy(m->name, NAME, sizeof(NAME));
	m->flags_a = (struct nlattr){ .nla_len = sizeof(struct nlattr) + 4,
				      .nla_type = NFTA_TABLE_FLAGS };
	m->flags = htonl(NFT_TABLE_F_OWNER);
}

static void batch_msg(struct nlmsghdr *nh, struct nfgenmsg *g, int type, uint32_t seq)
{
	*nh = (struct nlmsghdr){ .nlmsg_len = sizeof(*nh) + sizeof(*g), .nlmsg_type = type,
				 .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = seq };
	*g = (struct nfgenmsg){ .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0,
				.res_id = htons(NFNL_SUBSYS_NFTABLES) };
}

static void make_table(int fd)
{
	struct {
		struct nlmsghdr bh;
		struct nfgenmsg bg;
		struct table_msg t;
		struct nlmsghdr eh;
		struct nfgenmsg eg;
	} req;
	struct {
		struct nlmsghdr nh;
		struct nlmsgerr e;
	} ack;

	batch_msg(&req.bh, &req.bg, NFNL_MSG_BATCH_BEGIN, 1);
	table_msg(&req.t, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_ACK, 2);
	batch_msg(&req.eh, &req.eg, NFNL_MSG_BATCH_END, 3);
	if (send(fd, &req, sizeof(req), 0) != sizeof(req) ||
	    recv(fd, &ack, sizeof(ack), 0) < (ssize_t)sizeof(ack))
		fail("new table: %s", strerror(errno));
	if (ack.nh.nlmsg_type != NLMSG_ERROR || ack.e.error)
		fail("new table: %s", strerror(-ack.e.error));
}

/* The table is there: GETTABLE answers with it, not an error. */
static bool table_there(int fd)
{
	struct table_msg m;
	char buf[4096];
	ssize_t n;

	table_msg(&m, NFT_MSG_GETTABLE, 0, 4);
	m.nh.nlmsg_len = offsetof(struct table_msg, flags_a);
	if (send(fd, &m, m.nh.nlmsg_len, 0) != (ssize_t)m.nh.nlmsg_len)
		fail("get table: %s", strerror(errno));
	n = recv(fd, buf, sizeof(buf), 0);
	return n >= (ssize_t)sizeof(struct nlmsghdr) &&
	       ((struct nlmsghdr *)buf)->nlmsg_type != NLMSG_ERROR;
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	int fd;

	test_init(argc, argv);
	if (unshare(CLONE_NEWNET))
		fail("a network namespace of its own: %s", strerror(errno));
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0 || dup2(fd, 7) != 7 || close(fd))
		fail("netlink socket: %s", strerror(errno));
	make_table(7);
	if (!table_there(7))
		fail("the table is not there");
	test_ready();
	while (test_go())
		counter++;
	if (!table_there(7))
		fail("the table is gone");
	pass();
}
