/* A packet socket at fd 8 (SOCK_RAW, protocol 0: it receives nothing)
 * with a receive ring (PACKET_RX_RING, TPACKET_V2), mapped if RING_MAP is
 * set: memory the task shares with the kernel, which lmproc does not make
 * again.  The dump must be refused naming the fd and the ring (or the
 * mapping of the socket); the ring stays.  It counts in a busy loop until
 * SIGTERM. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_packet.h>

#include "test.h"

int main(int argc, char **argv)
{
	struct tpacket_req req = { .tp_block_size = 4096, .tp_block_nr = 2, .tp_frame_size = 2048,
				   .tp_frame_nr = 4 };
	volatile uint64_t counter = 0;
	int v = TPACKET_V2, fd;
	socklen_t len = sizeof(v);
	void *ring;

	test_init(argc, argv);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0 || dup2(fd, 8) != 8 || close(fd))
		fail("packet socket: %s", strerror(errno));
	if (setsockopt(8, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) ||
	    setsockopt(8, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)))
		fail("PACKET_RX_RING: %s", strerror(errno));
	ring = getenv("RING_MAP") ? mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, 8, 0) :
				    NULL;
	if (ring == MAP_FAILED)
		fail("mmap the ring: %s", strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	/* A ring is there: the version can no longer change. */
	v = TPACKET_V1;
	if (!setsockopt(8, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) || errno != EBUSY)
		fail("the ring is gone");
	if (getsockopt(8, SOL_PACKET, PACKET_VERSION, &v, &len) || v != TPACKET_V2)
		fail("the version changed");
	pass();
}
