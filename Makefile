# lmproc: live migration of Linux processes.
# "make" builds ./lmproc; "make demo" and "make check" first install any
# missing Debian build dependencies (see README.md); "make install" (PREFIX,
# DESTDIR) installs lmproc, its man page and its bash completion.

CC		?= gcc
PROTOC_C	?= protoc-c
V		?= 0

VERSION		:= 0.9.0

# "make install" as Debian packaging runs it (DESTDIR, PREFIX=/usr): the
# binary in sbin, as Debian's criu, the man page and the bash completion.
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/sbin
MANDIR		?= $(PREFIX)/share/man
BASHCOMPDIR	?= $(PREFIX)/share/bash-completion/completions
# The commit this tree is (git describe --dirty): "unknown" outside a git
# checkout of it, as a release tarball, even one unpacked inside another
# repository (a packaging one), whose commit it is not.
GIT_COMMIT	?= $(shell [ "$$(git -C '$(CURDIR)' rev-parse --show-toplevel 2>/dev/null)" = \
		     '$(CURDIR)' ] && git -C '$(CURDIR)' describe --always --dirty --abbrev=12 \
		     2>/dev/null || echo unknown)

CFLAGS_COMMON	:= -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE
CFLAGS		+= $(CFLAGS_COMMON) -Icriu-lite/include -Ipie/include -Ibuild/images \
		   -Ibuild -Ibuild/pie $(shell pkg-config --cflags libnl-3.0 2>/dev/null)
LDLIBS		+= -lprotobuf-c -lcap -lxxhash $(shell pkg-config --libs libnl-3.0 2>/dev/null) \
		   $(shell pkg-config --libs libnl-route-3.0 2>/dev/null) \
		   $(shell pkg-config --libs libnftables 2>/dev/null) \
		   $(shell pkg-config --libs gnutls 2>/dev/null)

# Freestanding position-independent code for the blobs: no libc, no GOT
# (everything hidden), no stack protector (there is no TLS canary to read).
PIE_CFLAGS	:= -O2 -Wall -Wextra -Werror -fpie -nostdlib -ffreestanding \
		   -fno-stack-protector -fno-builtin -fno-asynchronous-unwind-tables \
		   -fno-unwind-tables -fcf-protection=none -fvisibility=hidden \
		   -mno-sse -mno-mmx -mno-avx -mgeneral-regs-only -fno-jump-tables \
		   -Ipie/include

DEBIAN_DEPS	:= gcc make pkg-config protobuf-c-compiler libprotobuf-c-dev \
		   libnl-3-dev libnl-route-3-dev libbpf-dev bpftool libcap-dev clang \
		   libxxhash-dev libnftables-dev nftables iptables libgnutls28-dev \
		   gnutls-bin

PROTOS		:= $(wildcard images/*.proto)
PB_C		:= $(patsubst images/%.proto,build/images/%.pb-c.c,$(PROTOS))
PB_H		:= $(PB_C:.c=.h)
PB_O		:= $(PB_C:.c=.o)

# Sources by subsystem folder (docs/architecture.md, "Map"), plus the
# few files at the top that every folder uses.
TOOL_SRC	:= $(wildcard criu-lite/*.c criu-lite/*/*.c)
TOOL_O		:= $(patsubst criu-lite/%.c,build/criu-lite/%.o,$(TOOL_SRC))

BLOBS		:= parasite restorer
BLOB_O		:= $(patsubst %,build/pie/%-blob.o,$(BLOBS))
BLOB_H		:= $(patsubst %,build/pie/%-blob.h,$(BLOBS))

# "make" names each step as kbuild does; "make -s" prints nothing but
# errors; "make V=1" prints the commands.
ifeq ($(V),0)
Q := @
ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
msg :=
else
msg = @printf '  %-8s %s\n' $(1) $(2);
endif
else
Q :=
msg :=
endif

all: lmproc
.PHONY: all deps demo check clean bench install uninstall FORCE
# Generated pie intermediates are kept: headers are included by the tool.
.SECONDARY:

# bpf/Makefile.inc adds the BPF skeleton headers to BPF_SKEL and libbpf to
# LDLIBS.
-include bpf/Makefile.inc

lmproc: $(TOOL_O) $(PB_O) $(BLOB_O)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Rewritten only when the version or the commit changed, so that only
# version.o is rebuilt then.
build/lmproc-version.h: FORCE
	@mkdir -p build
	$(Q)printf '#define LMPROC_VERSION "%s"\n#define LMPROC_COMMIT "%s"\n' \
		'$(VERSION)' '$(GIT_COMMIT)' > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

build/criu-lite/cli/version.o: build/lmproc-version.h

build/images/%.pb-c.c build/images/%.pb-c.h: images/%.proto
	@mkdir -p build/images
	$(call msg,PROTOC,$<)
	$(Q)$(PROTOC_C) --proto_path=images --c_out=build/images $<

# An image may import another's messages: every header first.
build/images/%.pb-c.o: build/images/%.pb-c.c $(PB_H)
	$(call msg,CC,$<)
	$(Q)$(CC) $(CFLAGS) -Wno-unused-parameter -c -o $@ $<

build/criu-lite/%.o: criu-lite/%.c $(PB_H) $(BLOB_H) $(BPF_SKEL) $(wildcard criu-lite/include/*.h pie/include/*.h)
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# pie/: each blob is one ELF linked at address 0 with pie/pie.lds, checked
# to need no relocation, flattened to bytes and embedded with .incbin.
# build/pie/NAME-blob.h carries the offsets of its exported symbols.
build/pie/%.o: pie/%.c $(wildcard pie/include/*.h)
	@mkdir -p build/pie
	$(call msg,PIECC,$<)
	$(Q)$(CC) $(PIE_CFLAGS) -c -o $@ $<

build/pie/%.o: pie/%.S
	@mkdir -p build/pie
	$(call msg,PIEAS,$<)
	$(Q)$(CC) $(PIE_CFLAGS) -c -o $@ $<

build/pie/parasite.elf: build/pie/parasite-head.o build/pie/parasite.o pie/pie.lds
build/pie/restorer.elf: build/pie/restorer-head.o build/pie/restorer.o build/pie/restorer-attrs.o \
			build/pie/restorer-aio.o build/pie/restorer-io-uring.o pie/pie.lds

build/pie/%.elf:
	$(call msg,PIELD,$@)
	$(Q)ld -T pie/pie.lds -o $@ $(filter %.o,$^)
	$(Q)if [ -n "$$(readelf -rW $@ | grep -v 'no relocations')" ]; then \
		echo "$@: position-dependent relocations in a pie blob" >&2; \
		readelf -rW $@ >&2; rm -f $@; exit 1; fi

build/pie/%.bin: build/pie/%.elf
	$(Q)objcopy -O binary --set-section-flags .bss=alloc,load,contents $< $@

build/pie/%-blob.h: build/pie/%.elf pie/gen-blob-header.sh
	$(Q)sh pie/gen-blob-header.sh $* $< > $@

build/pie/%-blob.o: build/pie/%.bin
	$(call msg,BLOB,$@)
	$(Q)printf '\t.section .rodata\n\t.globl %s_blob\n\t.globl %s_blob_size\n\t.balign 64\n%s_blob:\n\t.incbin "%s"\n%s_blob_end:\n\t.balign 8\n%s_blob_size:\n\t.quad %s_blob_end - %s_blob\n\t.section .note.GNU-stack,"",@progbits\n' \
		$* $* $* $< $* $* $* $* | $(CC) -c -x assembler -o $@ -

# ip and ss, for the demo's and the tests' namespaces; groff, for the
# test that renders the man page.
DEBIAN_DEPS	+= iproute2 groff-base

deps:
	@sh contrib/install-deps.sh $(DEBIAN_DEPS)

demo: deps
	$(Q)$(MAKE) -s all $(DEMO_PROGS)
	$(Q)bash contrib/demo.sh

check: deps
	$(Q)$(MAKE) -s all test-progs
	$(Q)bash test/run.sh

bench: all test-progs
	$(Q)sh bench/run.sh

-include test/Makefile.inc test/unit/Makefile.inc bench/Makefile.inc

install: all
	$(call msg,INSTALL,$(DESTDIR)$(BINDIR)/lmproc)
	$(Q)install -d -m 755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR)
	$(Q)install -m 755 lmproc $(DESTDIR)$(BINDIR)/lmproc
	$(Q)install -m 644 docs/lmproc.8 $(DESTDIR)$(MANDIR)/man8/lmproc.8
	$(Q)install -m 644 contrib/lmproc.bash-completion $(DESTDIR)$(BASHCOMPDIR)/lmproc

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(BINDIR)/lmproc)
	$(Q)rm -f $(DESTDIR)$(BINDIR)/lmproc $(DESTDIR)$(MANDIR)/man8/lmproc.8 \
		$(DESTDIR)$(BASHCOMPDIR)/lmproc

clean:
	$(Q)rm -rf build lmproc
