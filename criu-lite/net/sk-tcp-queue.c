/* Owns the connections waiting in a TCP listener's accept queue.  They
 * can't be restored: a connection gets into a listener's queue only
 * through a handshake the kernel runs itself, choosing the listener's
 * initial sequence number and timestamp offset, and no interface (TCP
 * repair included) sets them on a queued connection or puts a socket
 * into a queue (docs/architecture.md, "Connections not accepted yet").
 * So a listener with any is refused, in one line, or, with CRIU's
 * --skip-in-flight, dumped without them: each is named in a warning, and
 * its client gets a reset once the dumped listener is gone. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "log.h"
#include "sk-opts.h"
#include "sk-tcp.h"

#define NAME_LEN (INET6_ADDRSTRLEN + 16)

static void warn_skipped(const struct files_dump *d, const struct fd_parms *p,
			 const struct sockaddr_storage *listener, const char *lname,
			 unsigned waiting)
{
	cleanup_free struct inet_tuple *t = calloc(waiting, sizeof(*t));
	char local[NAME_LEN], peer[NAME_LEN];
	int n = t ? 0 : -ENOMEM;

	if (t)
		n = inet_diag_pending(d->pid, listener, t, waiting);
	for (int i = 0; i < n; i++) {
		inet_addr_name(&t[i].local, local, sizeof(local));
		inet_addr_name(&t[i].peer, peer, sizeof(peer));
		pr_warn("pid %d fd %d (TCP listener %s): the connection %s <- %s waits to be "
			"accepted: left out of the images (--skip-in-flight), its client gets a "
			"reset once this listener is gone\n",
			d->pid, p->fd, lname, local, peer);
	}
	if (n != (int)waiting)
		pr_warn(
		    "pid %d fd %d (TCP listener %s): %u connections wait to be accepted, "
		    "left out of the images (--skip-in-flight); sock_diag named %d of them%s%s\n",
		    d->pid, p->fd, lname, waiting, max(n, 0), n < 0 ? ": " : "",
		    n < 0 ? strerror(-n) : "");
}

int tcp_queue_dump(const struct files_dump *d, const struct fd_parms *p,
		   const struct sockaddr_storage *local, unsigned waiting)
{
	char lname[NAME_LEN];

	inet_addr_name(local, lname, sizeof(lname));
	if (!d->skip_in_flight) {
		pr_err("pid %d fd %d (TCP listener %s): %u connection%s wait%s to be accepted: no "
		       "kernel interface puts a connection back into a listener's queue; "
		       "--skip-in-flight leaves them out (their clients get a reset)\n",
		       d->pid, p->fd, lname, waiting, waiting == 1 ? "" : "s",
		       waiting == 1 ? "s" : "");
		return -EOPNOTSUPP;
	}
	warn_skipped(d, p, local, lname, waiting);
	return 0;
}
