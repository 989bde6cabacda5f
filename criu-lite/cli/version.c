/* lmproc --version: what this binary is (version, the image format it
 * writes and reads, the commit it was built from) and what it was built
 * with.  The Makefile writes build/lmproc-version.h; the libraries'
 * versions are those of the headers it was compiled against. */
#include <bpf/libbpf_version.h>
#include <gnutls/gnutls.h>
#include <netlink/version.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>

#include "image.h"
#include "lmproc-version.h"
#include "opts.h"

#define STR2(x) #x
#define STR(x) STR2(x)

int cmd_version(void)
{
	printf("lmproc %s\n", LMPROC_VERSION);
	printf("image format %d\n", IMAGE_VERSION);
	printf("commit %s\n", LMPROC_COMMIT);
	/* None of these is optional in the Makefile: every build has them,
	 * whether this host can use them is for `lmproc check`. */
	printf("features: ebpf-tracker tls-psk tls-x509 nftables-lock iptables-lock\n");
	printf("built with: libbpf %s.%s, GnuTLS %s, protobuf-c %s, libnl %s\n",
	       STR(LIBBPF_MAJOR_VERSION), STR(LIBBPF_MINOR_VERSION), GNUTLS_VERSION,
	       PROTOBUF_C_VERSION, LIBNL_VERSION);
	return 0;
}
