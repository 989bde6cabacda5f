/* ptyrun OUT CMD [ARG...]: runs CMD as a shell runs a job in a terminal:
 * a new session whose controlling terminal is a new pty, CMD with the pty
 * as stdin, stdout and stderr.  Everything written to the pty goes to the
 * file OUT; CMD's exit status to OUT.status once it exits.  ptyrun stays
 * until no one holds the pty any more (a process restored onto it may
 * outlive CMD), then exits with CMD's status (127 if it could not run).
 * With PTYRUN_NOCTTY=1 the pty is not the session's controlling terminal
 * (the session has none), as for a daemon a client passed a terminal to. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int out_fd;
static char status_path[4096];

static int die(const char *what)
{
	fprintf(stderr, "ptyrun: %s: %s\n", what, strerror(errno));
	return 1;
}

static void write_status(int status)
{
	char buf[16];
	int fd = open(status_path, O_WRONLY | O_CREAT | O_TRUNC, 0644), n;

	n = snprintf(buf, sizeof(buf), "%d\n", status);
	if (fd < 0 || write(fd, buf, n) != n)
		fprintf(stderr, "ptyrun: can't write %s\n", status_path);
	if (fd >= 0)
		close(fd);
}

static int child_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void on_chld(int sig)
{
	(void)sig;
}

/* Copies the pty's output until every slave is closed (EIO), reaping CMD
 * on the way (SIGCHLD interrupts the read, so its status is written as
 * soon as it exits). */
static int relay(int master, pid_t cmd)
{
	int status = 127, st;
	char buf[4096];

	for (;;) {
		ssize_t n = read(master, buf, sizeof(buf));

		if (cmd > 0 && waitpid(cmd, &st, WNOHANG) == cmd) {
			status = child_status(st);
			write_status(status);
			cmd = 0;
		}
		if (n > 0) {
			if (write(out_fd, buf, n) != n)
				return die("write");
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (cmd > 0 && waitpid(cmd, &st, 0) == cmd) {
		status = child_status(st);
		write_status(status);
	}
	return status;
}

int main(int argc, char **argv)
{
	const char *noctty = getenv("PTYRUN_NOCTTY");
	int master, slave, unlock = 0, st;
	bool ctty = !noctty || noctty[0] != '1';
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: ptyrun OUT CMD [ARG...]\n");
		return 2;
	}
	out_fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	snprintf(status_path, sizeof(status_path), "%s.status", argv[1]);
	if (out_fd < 0)
		return die(argv[1]);
	/* A group leader can't start a session: go on in a child. */
	if (getpgrp() == getpid()) {
		pid = fork();
		if (pid < 0)
			return die("fork");
		if (pid > 0)
			return waitpid(pid, &st, 0) == pid ? child_status(st) : 1;
	}
	if (setsid() < 0)
		return die("setsid");
	sigaction(SIGCHLD, &(struct sigaction){ .sa_handler = on_chld }, NULL);
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock))
		return die("posix_openpt");
	slave = open(ptsname(master), O_RDWR | (ctty ? 0 : O_NOCTTY));
	if (slave < 0 || (ctty && ioctl(slave, TIOCSCTTY, 0)))
		return die("open the pty");
	pid = fork();
	if (pid < 0)
		return die("fork");
	if (pid == 0) {
		if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
			_exit(127);
		if (slave > 2)
			close(slave);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	close(slave);
	return relay(master, pid);
}
