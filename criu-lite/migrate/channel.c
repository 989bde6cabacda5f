/* The migration's channel: one TCP connection, TLS 1.3 through GnuTLS
 * with a pre-shared key or X.509 certificates both ways (or plaintext with
 * --insecure), every read and write bounded in time; the PSK file and the
 * certificates; listening and connecting. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
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

/* TLS 1.3 only, and only the PSK key exchanges with ECDHE or DHE: a
 * peer offering the key alone (psk_ke) is refused, since a key stolen
 * later would open every migration recorded with it; AES-GCM before ChaCha20,
 * which GnuTLS would pick and which costs twice the frozen time here
 * (AES-NI). */
#define MIG_PRIORITY                                                                        \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK:-CIPHER-ALL:+AES-128-GCM:" \
	"+AES-256-GCM:+CHACHA20-POLY1305"
/* The same with certificates: no PSK key exchange, so that a peer with a
 * key (or without a certificate) fails the handshake. */
#define MIG_PRIORITY_X509 \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305"
/* A PEM file over this is not one of ours. */
#define MIG_MAX_PEM (1 << 20)

/* "IDENTITY:HEXKEY" or "HEXKEY" (identity "lmproc") on the first line; the
 * file must not be readable by others. */
static int psk_load(const char *path, struct mig_psk *psk)
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

/* The host of "ADDR:PORT" or "[ADDR6]:PORT" into HOST; *PORT the port's. */
static int split_host(const char *s, char *host, size_t len, const char **port)
{
	size_t hl;

	*port = strrchr(s, ':');
	if (!*port || *port == s)
		return -EINVAL;
	hl = *port - s;
	(*port)++;
	if (s[0] == '[' && hl > 2 && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= len)
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = 0;
	return 0;
}

/* PATH, open as FD, given as OPT: a regular file of a PEM's size, and
 * a private key readable by its owner only; *SIZE its size. */
static int pem_check(int fd, const char *path, const char *opt, bool key, off_t *size)
{
	struct stat st;

	if (fstat(fd, &st)) {
		pr_perror("Can't stat %s %s", opt, path);
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MIG_MAX_PEM) {
		pr_err("%s %s is not a PEM file (not a regular file, or over %d bytes)\n", opt,
		       path, MIG_MAX_PEM);
		return -EINVAL;
	}
	if (key && (st.st_mode & 077)) {
		pr_err("%s %s is readable by group or others (mode %o): chmod 600 it\n", opt, path,
		       st.st_mode & 0777);
		return -EPERM;
	}
	*size = st.st_size;
	return 0;
}

/* PATH, given as OPT, read whole into OUT (malloc'ed, NUL-terminated):
 * it must be PEM. */
static int pem_read(const char *path, const char *opt, bool key, gnutls_datum_t *out)
{
	char *buf = NULL;
	ssize_t n = -1;
	off_t size = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open %s %s", opt, path);
		return -errno;
	}
	ret = pem_check(fd, path, opt, key, &size);
	if (!ret)
		buf = malloc(size + 1);
	if (buf)
		n = read(fd, buf, size);
	close(fd);
	if (ret)
		return ret;
	if (n != size) {
		pr_err("Can't read %s %s\n", opt, path);
		free(buf);
		return -EIO;
	}
	buf[n] = 0;
	if (!strstr(buf, "-----BEGIN ")) {
		pr_err("%s %s is not PEM: no '-----BEGIN' line\n", opt, path);
		free(buf);
		return -EINVAL;
	}
	*out = (gnutls_datum_t){(unsigned char *)buf, n};
	return 0;
}

/* The CA that signs the peer's certificate, and this side's own
 * certificate and key, which must match. */
static int x509_set(gnutls_certificate_credentials_t cred, const struct lmproc_opts *o,
		    const gnutls_datum_t *ca, const gnutls_datum_t *cert, const gnutls_datum_t *key)
{
	int ret = gnutls_certificate_set_x509_trust_mem(cred, ca, GNUTLS_X509_FMT_PEM);

	if (ret <= 0) {
		pr_err("--tls-cacert %s holds no certificate GnuTLS can read (%s)\n", o->tls_cacert,
		       ret ? gnutls_strerror(ret) : "no CERTIFICATE block");
		return -EINVAL;
	}
	ret = gnutls_certificate_set_x509_key_mem2(cred, cert, key, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (ret < 0) {
		pr_err("--tls-cert %s with --tls-key %s: %s\n", o->tls_cert, o->tls_key,
		       gnutls_strerror(ret));
		return -EINVAL;
	}
	return 0;
}

static int x509_load(const struct lmproc_opts *o, struct mig_auth *auth)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t ca = {}, cert = {}, key = {};
	int ret;

	ret = pem_read(o->tls_cacert, "--tls-cacert", false, &ca);
	if (!ret)
		ret = pem_read(o->tls_cert, "--tls-cert", false, &cert);
	if (!ret)
		ret = pem_read(o->tls_key, "--tls-key", true, &key);
	if (!ret && gnutls_certificate_allocate_credentials(&cred))
		ret = -ENOMEM;
	if (!ret) {
		auth->x509 = cred;
		ret = x509_set(cred, o, &ca, &cert, &key);
	}
	if (key.data)
		gnutls_memset(key.data, 0, key.size);
	free(ca.data);
	free(cert.data);
	free(key.data);
	if (ret)
		mig_auth_free(auth);
	return ret;
}

int mig_auth_load(const struct lmproc_opts *opts, bool server, struct mig_auth *auth)
{
	const char *port;

	memset(auth, 0, sizeof(*auth));
	if (!opts->tls_cacert)
		return psk_load(opts->psk_file, &auth->psk);
	if (!server && !opts->tls_no_cn_verify &&
	    split_host(opts->to, auth->name, sizeof(auth->name), &port)) {
		pr_err("--to %s is not ADDR:PORT\n", opts->to);
		return -EINVAL;
	}
	return x509_load(opts, auth);
}

void mig_auth_free(struct mig_auth *auth)
{
	if (auth->x509)
		gnutls_certificate_free_credentials(auth->x509);
	auth->x509 = NULL;
}

const char *mig_auth_kind(const struct mig_auth *auth)
{
	return auth->x509 ? "X.509 certificates" : "pre-shared key";
}

/* "ADDR:PORT" or "[ADDR6]:PORT" into a socket address. */
static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai;
	const char *port;
	char host[128];

	if (split_host(s, host, sizeof(host), &port) || getaddrinfo(host, port, &hints, &ai))
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
	const struct mig_psk *psk = &c->auth->psk;

	if (strcmp(identity, psk->identity))
		return -1;
	key->data = gnutls_malloc(psk->key_len);
	if (!key->data)
		return -1;
	memcpy(key->data, psk->key, psk->key_len);
	key->size = psk->key_len;
	return 0;
}

static int psk_creds(struct mig_chan *c, bool server)
{
	const struct mig_psk *psk = &c->auth->psk;
	gnutls_datum_t key = {(unsigned char *)psk->key, psk->key_len};
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
	return gnutls_psk_set_client_credentials(cc, psk->identity, &key, GNUTLS_PSK_KEY_RAW)
		   ? -EINVAL
		   : 0;
}

/* Certificates both ways: serve requires the client's; each side checks
 * the peer's chain against the CA, and migrate the name of --to's host in
 * the server's unless --tls-no-cn-verify. */
static int x509_session(struct mig_chan *c, gnutls_session_t s)
{
	int ret = gnutls_priority_set_direct(s, MIG_PRIORITY_X509, NULL);

	if (!ret)
		ret = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, c->auth->x509);
	if (ret)
		return ret;
	if (c->server) {
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
		/* Without the CA list a client sends the certificate it has,
		 * which the verification then names, rather than none. */
		gnutls_certificate_send_x509_rdn_sequence(s, 1);
	}
	gnutls_session_set_verify_cert(s, !c->server && c->auth->name[0] ? c->auth->name : NULL, 0);
	return 0;
}

/* Why the handshake failed, in GnuTLS's words: the verification's
 * verdict on the peer's certificate, or the alert the peer sent. */
static void handshake_why(const struct mig_chan *c, int err, char *why, size_t why_len)
{
	unsigned int status = gnutls_session_get_verify_cert_status(c->session);
	gnutls_datum_t out = {};
	char owner[192] = "";
	size_t n;

	if (status & GNUTLS_CERT_UNEXPECTED_OWNER)
		snprintf(owner, sizeof(owner),
			 " (it must name %s in an IP address SAN; see --tls-no-cn-verify)",
			 c->auth->name);
	if (err == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR &&
	    !gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0)) {
		/* GnuTLS ends each of its sentences with a space. */
		n = strlen((char *)out.data);
		while (n && isspace(out.data[n - 1]))
			out.data[--n] = 0;
		snprintf(why, why_len,
			 "TLS handshake failed: the peer's certificate is refused: %s%s", out.data,
			 owner);
		gnutls_free(out.data);
		return;
	}
	if (err == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		snprintf(why, why_len, "TLS handshake failed: the peer refused it (alert: %s)",
			 gnutls_alert_get_name(gnutls_alert_get(c->session)));
		return;
	}
	snprintf(why, why_len, "TLS handshake failed (%s): %s", gnutls_strerror(err),
		 c->auth->x509
		     ? "a peer without a certificate, with a pre-shared key, or not a TLS peer"
		     : "a different key, a peer with certificates, or not a TLS peer");
}

/* Closing with the peer's data unread would reset the connection, and
 * the reset can reach the peer before it has read the alert (a TLS 1.3
 * client sends its first message as soon as its own handshake ends): what
 * it sends is read and dropped until it closes, for a second at most. */
static void linger(struct mig_chan *c)
{
	uint64_t end = now_us() + MIG_LINGER_MS * 1000;
	char buf[4096];

	shutdown(c->fd, SHUT_WR);
	mig_chan_timeout(c, MIG_LINGER_MS);
	while (now_us() < end && recv(c->fd, buf, sizeof(buf), 0) > 0)
		;
}

/* The TLS handshake; a peer that fails it has sent nothing the protocol
 * reads. */
static int tls_start(struct mig_chan *c, bool server, char *why, size_t why_len)
{
	gnutls_session_t s;
	uint64_t t0 = now_us();
	char *desc;
	int ret;

	ret = c->auth->x509 ? 0 : psk_creds(c, server);
	if (ret || gnutls_init(&s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_SIGNAL)) {
		snprintf(why, why_len, "can't set up TLS");
		return -ENOMEM;
	}
	c->session = s;
	gnutls_session_set_ptr(s, c);
	if (c->auth->x509) {
		ret = x509_session(c, s);
	} else {
		ret = gnutls_priority_set_direct(s, MIG_PRIORITY, NULL);
		if (!ret)
			ret = gnutls_credentials_set(s, GNUTLS_CRD_PSK, c->cred);
	}
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
		handshake_why(c, ret, why, why_len);
		/* The peer learns why as well, in TLS's words. */
		gnutls_alert_send_appropriate(s, ret);
		linger(c);
		return -EACCES;
	}
	c->tls = true;
	desc = gnutls_session_get_desc(s);
	/* TLS 1.3's description leaves out the key exchange's group. */
	pr_info("TLS with %s (%s): %s, key exchange %s, handshake %.1f ms\n", c->peer,
		mig_auth_kind(c->auth), desc ? desc : "?",
		gnutls_group_get_name(gnutls_group_get(s)) ?: "without (EC)DHE",
		(now_us() - t0) / 1000.0);
	gnutls_free(desc);
	return 0;
}

int mig_chan_start(struct mig_chan *c, int fd, bool server, const struct mig_auth *auth, char *why,
		   size_t why_len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->server = server;
	c->auth = auth;
	if (!getpeername(fd, (void *)&ss, &sl))
		addr_str(&ss, c->peer, sizeof(c->peer));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (mig_chan_timeout(c, MIG_IO_TIMEOUT_MS)) {
		snprintf(why, why_len, "can't set the socket's timeouts: %s", strerror(errno));
		return -errno;
	}
	return auth ? tls_start(c, server, why, why_len) : 0;
}

static int tls_err(struct mig_chan *c, ssize_t r)
{
	if (r == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		c->alert = gnutls_alert_get_name(gnutls_alert_get(c->session));
		return -EPROTO;
	}
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
			return c->tls ? tls_err(c, n)
				      : (errno == EAGAIN ? -ETIMEDOUT : -ECONNRESET);
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
			return c->tls ? tls_err(c, n)
				      : (errno == EAGAIN ? -ETIMEDOUT : -ECONNRESET);
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
