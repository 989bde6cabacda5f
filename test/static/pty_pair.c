/* A pty pair the process holds both sides of: the master (packet mode),
 * the slave (dup'ed: one description at two fds) and a second slave
 * description (O_RDONLY|O_NONBLOCK), with non-default termios (raw-ish,
 * 9600 baud, VINTR ^P, VMIN 2), a window size of its own and the slave
 * locked again after it was opened (only asked with TIOCGPTLCK: a failed
 * open of a locked slave breaks the pair on this kernel).  After the restore (maybe as another
 * pty number) all of that is the same, the fds are still one pair, and
 * bytes flow both ways: master to slave raw, slave to master with the
 * packet-mode header. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "test.h"

static int master, slave, slave_dup, slave_ro;
static struct termios want;
static const struct winsize want_ws = {37, 123, 456, 789};

static void xfer(int from, int to, const char *data, const char *expect, size_t elen)
{
	char buf[64];
	size_t got = 0;
	uint64_t end = test_now_ns() + 2000000000ULL;

	if (write(from, data, strlen(data)) != (ssize_t)strlen(data))
		fail("write %s to fd %d: %s", data, from, strerror(errno));
	while (got < elen && test_now_ns() < end) {
		ssize_t n = read(to, buf + got, sizeof(buf) - got);

		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			fail("read fd %d: %s", to, n ? strerror(errno) : "end of file");
		got += n;
	}
	if (got != elen || memcmp(buf, expect, elen))
		fail("fd %d got %zu bytes, not the %zu written at fd %d", to, got, elen, from);
}

static void check_state(void)
{
	struct termios t;
	struct winsize ws;
	int pkt = 0, lck = 0;
	unsigned int n;
	struct stat st;

	if (tcgetattr(slave, &t) || ioctl(master, TIOCGWINSZ, &ws) ||
	    ioctl(master, TIOCGPKT, &pkt) || ioctl(master, TIOCGPTLCK, &lck) ||
	    ioctl(master, TIOCGPTN, &n) || fstat(slave, &st))
		fail("pty state: %s", strerror(errno));
	if (t.c_iflag != want.c_iflag || t.c_oflag != want.c_oflag ||
	    t.c_cflag != want.c_cflag || t.c_lflag != want.c_lflag ||
	    memcmp(t.c_cc, want.c_cc, NCCS) || cfgetospeed(&t) != B9600)
		fail("termios: iflag 0%o oflag 0%o cflag 0%o lflag 0%o, not 0%o 0%o 0%o 0%o",
		     t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag, want.c_iflag, want.c_oflag,
		     want.c_cflag, want.c_lflag);
	if (memcmp(&ws, &want_ws, sizeof(ws)))
		fail("window size %ux%u (%ux%u px)", ws.ws_row, ws.ws_col, ws.ws_xpixel,
		     ws.ws_ypixel);
	if (pkt != 1 || lck != 1)
		fail("packet mode %d, locked %d", pkt, lck);
	if ((major(st.st_rdev) - 136) * 256 + minor(st.st_rdev) != n)
		fail("slave fd %d is not pty %u of master fd %d", slave, n, master);
	if ((fcntl(slave_ro, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) != (O_RDONLY | O_NONBLOCK) ||
	    (fcntl(master, F_GETFL) & O_ACCMODE) != O_RDWR)
		fail("flags 0%o, 0%o", fcntl(slave_ro, F_GETFL), fcntl(master, F_GETFL));
}

int main(int argc, char **argv)
{
	int unlock = 0, lock = 1, pkt = 1;
	char c;

	test_init(argc, argv);
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock))
		fail("posix_openpt: %s", strerror(errno));
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	slave_ro = open(ptsname(master), O_RDONLY | O_NONBLOCK | O_NOCTTY);
	slave_dup = dup(slave);
	if (slave < 0 || slave_ro < 0 || slave_dup < 0 || tcgetattr(slave, &want))
		fail("slave: %s", strerror(errno));
	want.c_lflag &= ~(ECHO | ICANON | ISIG);
	want.c_iflag |= IUTF8;
	want.c_iflag &= ~ICRNL;
	want.c_oflag &= ~OPOST;
	want.c_cc[VINTR] = 0x10;
	want.c_cc[VMIN] = 2;
	want.c_cc[VTIME] = 0;
	cfsetspeed(&want, B9600);
	if (tcsetattr(slave, TCSANOW, &want) || tcgetattr(slave, &want) ||
	    ioctl(master, TIOCSWINSZ, &want_ws) || ioctl(master, TIOCPKT, &pkt) ||
	    ioctl(master, TIOCSPTLCK, &lock))
		fail("pty setup: %s", strerror(errno));
	xfer(master, slave, "ping", "ping", 4);
	xfer(slave, master, "pong", "\0pong", 5);
	check_state();

	test_waitsig();

	check_state();
	xfer(master, slave_dup, "after", "after", 5);
	xfer(slave, master, "restore", "\0restore", 8);
	if (read(slave_ro, &c, 1) != -1 || errno != EAGAIN)
		fail("the O_NONBLOCK slave description reads something: %s", strerror(errno));
	xfer(master, slave_ro, "ro", "ro", 2);
	pass();
}
