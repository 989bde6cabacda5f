/* The migration's channel: one TCP connection, TLS 1.3 with a pre-shared
 * key through GnuTLS (or plaintext with --insecure), every read and write
 * bounded in time; the PSK file; listening and connecting. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "migrate.h"

/* TLS 1.3 only, and only the PSK key exchanges (ECDHE or DHE for forward
 * secrecy when both offer it); AES-GCM before ChaCha20, which GnuTLS
 * would pick and which costs twice the frozen time here (AES-NI). */
#define MIG_PRIORITY                                                                               \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK:-CIPHER-ALL:+AES-128-GCM:" \
	"+AES-256-GCM:+CHACHA20-POLY1305"

/* "IDENTITY:HEXKEY" or "HEXKEY" (identity "lmproc") on the first line; the
 * file must not be readable by others. */
int mig_psk_load(const char *path, struct mig_psk *psk)
{
	char line[512], *hex, *colon;
	gnutls_datum_t in;
	struct stat st;
	size_t len;
	FILE *f;
	int ret;

	f = fopen(path, "re");
	if (!f) {
		pr_perror("Can't open the PSK file %s", path);
		return -errno;
	}
	ret = fstat(fileno(f), &st) ? -errno : 0;
	if (!ret && (st.st_mode & 077)) {
		pr_err("PSK file %s is readable by others (mode %o): chmod 600 it\n", path,
		       st.st_mode & 0777);
		ret = -EPERM;
	}
	if (!ret && !fgets(line, sizeof(line), f))
		ret = -ENODATA;
	fclose(f);
	if (ret) {
		if (ret == -ENODATA)
			pr_err("PSK file %s is empty\n", path);
		return ret;
	}
	line[strcspn(line, "\r\n")] = 0;
	colon = strchr(line, ':');
	hex = colon ? colon + 1 : line;
	if (colon)
		*colon = 0;
	if (colon && strlen(line) >= sizeof(psk->identity)) {
		pr_err("PSK file %s: the identity is over %zu bytes\n", path,
		       sizeof(psk->identity) - 1);
		return -EINVAL;
	}
	strcpy(psk->identity, colon ? line : "lmproc");
	len = strlen(hex);
	in.data = (unsigned char *)hex;
	in.size = len;
	psk->key_len = sizeof(psk->key);
	if (len < 32 || len > 2 * sizeof(psk->key) || !psk->identity[0] ||
	    gnutls_hex_decode(&in, psk->key, &psk->key_len) < 0) {
		pr_err("PSK file %s: the key must be 32 to 128 hex digits (16 to 64 bytes), "
		       "optionally after IDENTITY:\n",
		       path);
		return -EINVAL;
	}
	return 0;
}

/* "ADDR:PORT" or "[ADDR6]:PORT" into a socket address. */
static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai;
	char host[128];
	const char *port = strrchr(s, ':');
	size_t hl;

	if (!port || port == s)
		return -EINVAL;
	hl = port - s;
	if (s[0] == '[' && hl > 2 && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = 0;
	if (getaddrinfo(host, port + 1, &hints, &ai))
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sl = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static void addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(buf, len, "%s:%d", host, port);
	} else {
		const struct sockaddr_in6 *a = (const void *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(buf, len, "[%s]:%d", host, port);
	}
}

/* Listens on ADDR ("127.0.0.1:0" takes a free port); BOUND says where. */
int mig_listen(const char *addr, char *bound, size_t bound_len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	if (parse_addr(addr, &ss, &sl)) {
		pr_err("--listen %s is not ADDR:PORT with a numeric address\n", addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pr_perror("Can't make a socket to listen on %s", addr);
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&ss, sl) || listen(fd, 16) || getsockname(fd, (void *)&ss, &sl)) {
		pr_perror("Can't listen on %s", addr);
		close(fd);
		return -errno;
	}
	addr_str(&ss, bound, bound_len);
	return fd;
}

int mig_connect(const char *addr, int timeout_ms)
{
	struct sockaddr_storage ss;
	struct pollfd p;
	socklen_t sl, el = sizeof(int);
	int fd, err = 0;

	if (parse_addr(addr, &ss, &sl)) {
		pr_err("--to %s is not ADDR:PORT with a numeric address\n", addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (void *)&ss, sl) && errno != EINPROGRESS) {
		err = errno;
	} else {
		p = (struct pollfd){.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, timeout_ms) != 1)
			err = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el))
			err = errno;
	}
	if (err) {
		pr_err("Can't connect to %s: %s\n", addr, strerror(err));
		close(fd);
		return -err;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

int mig_chan_timeout(struct mig_chan *c, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

/* --link-timeout S: a message that waits S seconds fails (the socket's
 * timeouts), and so does a link that lost its peer: data unacknowledged
 * for S seconds (TCP_USER_TIMEOUT), or, while nothing is sent, keepalive
 * probes from S/3 seconds of silence on, none answered (a peer busy
 * restoring still answers them: its kernel does). */
int mig_chan_link_timeout(struct mig_chan *c, int s)
{
	int one = 1, probe = s / 3 ?: 1, cnt = 3;
	unsigned int ms = s * 1000;

	if (setsockopt(c->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms)) ||
	    setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &probe, sizeof(probe)) ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &probe, sizeof(probe)) ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)))
		return -errno;
	return mig_chan_timeout(c, ms);
}

static int server_psk(gnutls_session_t s, const char *identity, gnutls_datum_t *key)
{
	const struct mig_chan *c = gnutls_session_get_ptr(s);

	if (strcmp(identity, c->psk->identity))
		return -1;
	key->data = gnutls_malloc(c->psk->key_len);
	if (!key->data)
		return -1;
	memcpy(key->data, c->psk->key, c->psk->key_len);
	key->size = c->psk->key_len;
	return 0;
}

static int tls_creds(struct mig_chan *c, bool server)
{
	gnutls_datum_t key = {(unsigned char *)c->psk->key, c->psk->key_len};
	gnutls_psk_server_credentials_t sc;
	gnutls_psk_client_credentials_t cc;

	if (server) {
		if (gnutls_psk_allocate_server_credentials(&sc))
			return -ENOMEM;
		gnutls_psk_set_server_credentials_function(sc, server_psk);
		c->cred = sc;
		return 0;
	}
	if (gnutls_psk_allocate_client_credentials(&cc))
		return -ENOMEM;
	c->cred = cc;
	return gnutls_psk_set_client_credentials(cc, c->psk->identity, &key, GNUTLS_PSK_KEY_RAW)
		   ? -EINVAL
		   : 0;
}

/* The TLS handshake; a peer that fails it has sent nothing the protocol
 * reads. */
static int tls_start(struct mig_chan *c, bool server, char *why, size_t why_len)
{
	gnutls_session_t s;
	char *desc;
	int ret;

	ret = tls_creds(c, server);
	if (ret || gnutls_init(&s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_SIGNAL)) {
		snprintf(why, why_len, "can't set up TLS");
		return -ENOMEM;
	}
	c->session = s;
	gnutls_session_set_ptr(s, c);
	ret = gnutls_priority_set_direct(s, MIG_PRIORITY, NULL);
	if (!ret)
		ret = gnutls_credentials_set(s, GNUTLS_CRD_PSK, c->cred);
	if (ret) {
		snprintf(why, why_len, "can't set up TLS: %s", gnutls_strerror(ret));
		return -EINVAL;
	}
	gnutls_transport_set_int(s, c->fd);
	gnutls_handshake_set_timeout(s, MIG_HANDSHAKE_TIMEOUT_MS);
	do {
		ret = gnutls_handshake(s);
	} while (ret < 0 && !gnutls_error_is_fatal(ret) && ret != GNUTLS_E_AGAIN);
	if (ret < 0) {
		snprintf(why, why_len,
			 "TLS handshake failed (%s): a different key, or not a TLS peer",
			 gnutls_strerror(ret));
		return -EACCES;
	}
	c->tls = true;
	desc = gnutls_session_get_desc(s);
	pr_info("TLS with %s: %s\n", c->peer, desc ? desc : "?");
	gnutls_free(desc);
	return 0;
}

int mig_chan_start(struct mig_chan *c, int fd, bool server, const struct mig_psk *psk, char *why,
		   size_t why_len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->server = server;
	c->psk = psk;
	if (!getpeername(fd, (void *)&ss, &sl))
		addr_str(&ss, c->peer, sizeof(c->peer));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (mig_chan_timeout(c, MIG_IO_TIMEOUT_MS)) {
		snprintf(why, why_len, "can't set the socket's timeouts: %s", strerror(errno));
		return -errno;
	}
	return psk ? tls_start(c, server, why, why_len) : 0;
}

static int tls_err(ssize_t r)
{
	if (r == GNUTLS_E_AGAIN)
		return -ETIMEDOUT;
	if (r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PUSH_ERROR ||
	    r == GNUTLS_E_PULL_ERROR)
		return -ECONNRESET;
	pr_debug("TLS: %s\n", gnutls_strerror(r));
	return -EPROTO;
}

int mig_chan_write(struct mig_chan *c, const void *buf, size_t len)
{
	const char *p = buf;

	if (c->broken)
		return -ECONNRESET;
	while (len) {
		ssize_t n = c->tls ? gnutls_record_send(c->session, p, len)
				   : send(c->fd, p, len, MSG_NOSIGNAL);

		if (c->tls && n == GNUTLS_E_INTERRUPTED)
			continue;
		if (!c->tls && n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (size_t)n > len) {
			c->broken = true;
			if (n > 0)
				return -EPROTO;
			return c->tls ? tls_err(n) : (errno == EAGAIN ? -ETIMEDOUT : -ECONNRESET);
		}
		p += n;
		len -= n;
		c->bytes_sent += n;
	}
	return 0;
}

int mig_chan_read(struct mig_chan *c, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n =
		    c->tls ? gnutls_record_recv(c->session, p, len) : recv(c->fd, p, len, 0);

		if (c->tls && n == GNUTLS_E_INTERRUPTED)
			continue;
		if (!c->tls && n < 0 && errno == EINTR)
			continue;
		if (!n)
			return -ECONNRESET;
		if (n < 0)
			return c->tls ? tls_err(n) : (errno == EAGAIN ? -ETIMEDOUT : -ECONNRESET);
		p += n;
		len -= n;
		c->bytes_recv += n;
	}
	return 0;
}

int mig_chan_wait(struct mig_chan *c, int timeout_ms, int (*stop)(void))
{
	uint64_t end = now_us() + (uint64_t)timeout_ms * 1000;

	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int ret;

		if (c->tls && gnutls_record_check_pending(c->session))
			return 0;
		ret = stop ? stop() : 0;
		if (ret)
			return ret;
		if (now_us() >= end)
			return -ETIMEDOUT;
		ret = poll(&p, 1, 200);
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}

void mig_chan_close(struct mig_chan *c)
{
	if (c->session) {
		if (c->tls && !c->broken)
			gnutls_bye(c->session, GNUTLS_SHUT_WR);
		gnutls_deinit(c->session);
	}
	if (c->cred && c->server)
		gnutls_psk_free_server_credentials(c->cred);
	else if (c->cred)
		gnutls_psk_free_client_credentials(c->cred);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->session = NULL;
	c->cred = NULL;
}
