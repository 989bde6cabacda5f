/* Owns the memory attributes beyond protection and backing, dump and
 * restore side: what each VmFlags mnemonic of /proc/PID/smaps
 * (fs/proc/task_mmu.c) becomes at a restore, restored exactly (madvise
 * hints, mlock, mseal, the kernel's accounting) or refused; mlockall()'s
 * MCL_FUTURE/MCL_ONFAULT (the mm's def_flags) and PR_SET_THP_DISABLE.
 * pie/restorer.c applies them after the pages are filled. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common.h"
#include "log.h"
#include "mem.h"
#include "mm-attrs.h"
#include "parasite.h"
#include "proc.h"
#include "restore.h"
#include "restorer.h"
#include "vma-iter.h"

enum flag_rule {
	FLAG_SHAPE,	/* follows from prot, MAP_* flags and the backing */
	FLAG_BIT,	/* given back by the restorer: bit */
	FLAG_ACCOUNT,	/* checked against the shape, see vma_attrs_shape() */
	FLAG_IGNORED,	/* why: in words */
	FLAG_REFUSED,
};

/* Every mnemonic Linux 6.18 prints; any other is refused as unknown. */
static const struct vm_flag_rule {
	const char *name;
	enum flag_rule rule;
	uint32_t bit;
	const char *words;
} vm_flag_rules[] = {
	{ "rd", FLAG_SHAPE, 0, "readable" },
	{ "wr", FLAG_SHAPE, 0, "writable" },
	{ "ex", FLAG_SHAPE, 0, "executable" },
	{ "sh", FLAG_SHAPE, 0, "shared" },
	{ "mr", FLAG_SHAPE, 0, "may be readable" },
	{ "mw", FLAG_SHAPE, 0, "may be writable" },
	{ "me", FLAG_SHAPE, 0, "may be executable" },
	{ "ms", FLAG_SHAPE, 0, "may be shared" },
	{ "gd", FLAG_SHAPE, 0, "growing down" },
	{ "nr", FLAG_SHAPE, 0, "without swap reserved (MAP_NORESERVE)" },
	{ "pf", FLAG_REFUSED, 0, "a range of raw page frames (VM_PFNMAP)" },
	{ "io", FLAG_REFUSED, 0, "memory-mapped I/O (VM_IO)" },
	{ "lo", FLAG_BIT, RST_VMA_LOCK, "locked (mlock)" },
	{ "lf", FLAG_BIT, RST_VMA_LOCK_ONFAULT, "locked on fault (MLOCK_ONFAULT)" },
	{ "sr", FLAG_BIT, RST_MADV_SEQUENTIAL, "read sequentially (MADV_SEQUENTIAL)" },
	{ "rr", FLAG_BIT, RST_MADV_RANDOM, "read randomly (MADV_RANDOM)" },
	{ "dc", FLAG_BIT, RST_MADV_DONTFORK, "not copied on fork (MADV_DONTFORK)" },
	{ "wf", FLAG_BIT, RST_MADV_WIPEONFORK, "wiped on fork (MADV_WIPEONFORK)" },
	{ "dd", FLAG_BIT, RST_MADV_DONTDUMP, "left out of core dumps (MADV_DONTDUMP)" },
	{ "hg", FLAG_BIT, RST_MADV_HUGEPAGE, "advised huge pages (MADV_HUGEPAGE)" },
	{ "nh", FLAG_BIT, RST_MADV_NOHUGEPAGE, "advised no huge pages (MADV_NOHUGEPAGE)" },
	{ "mg", FLAG_BIT, RST_MADV_MERGEABLE, "mergeable by KSM (MADV_MERGEABLE)" },
	{ "sl", FLAG_BIT, RST_VMA_SEAL, "sealed (mseal)" },
	{ "ac", FLAG_ACCOUNT, RST_VMA_ACCOUNT, "accounted (VM_ACCOUNT)" },
	{ "de", FLAG_REFUSED, 0, "not expandable (VM_DONTEXPAND), a driver's mapping" },
	{ "ht", FLAG_REFUSED, 0, "hugetlb memory" },
	{ "sf", FLAG_REFUSED, 0, "synchronous DAX memory (MAP_SYNC)" },
	{ "ar", FLAG_REFUSED, 0, "device memory with its own caching (VM_ARCH_1)" },
	{ "mm", FLAG_REFUSED, 0, "a driver's mixed map (VM_MIXEDMAP)" },
	{ "um", FLAG_REFUSED, 0, "registered with a userfaultfd for missing pages" },
	{ "ui", FLAG_REFUSED, 0, "registered with a userfaultfd for minor faults" },
	{ "ss", FLAG_REFUSED, 0, "a shadow stack" },
	{ "dp", FLAG_REFUSED, 0, "droppable (MAP_DROPPABLE)" },
	{ "bt", FLAG_REFUSED, 0, "branch-target protected (arm64)" },
	{ "mt", FLAG_REFUSED, 0, "memory-tagged (arm64)" },
	/* Guard pages were installed in it (MADV_GUARD_INSTALL): mm.guards
	 * carries them and the restorer installs them again (mem.c). */
	{ "gu", FLAG_IGNORED, 0, "holding guard pages" },
	/* Every VMA a restore makes is soft-dirty, which is all a dirty
	 * tracker may assume after a restore anyway. */
	{ "sd", FLAG_IGNORED, 0, "soft-dirty" },
	/* lmproc's own dirty tracker between pre-dump rounds; a userfaultfd
	 * the process holds is refused as a file (files.c). */
	{ "uw", FLAG_IGNORED, 0, "write-protected by a userfaultfd" },
};

/* The kernel makes them, flags and all (an AIO ring's are checked by
 * aio.c: the ones io_setup() gives). */
static bool is_special(VmaKind k)
{
	return k == VMA_KIND__VMA_VDSO || k == VMA_KIND__VMA_VVAR ||
	       k == VMA_KIND__VMA_VVAR_VCLOCK || k == VMA_KIND__VMA_VSYSCALL ||
	       k == VMA_KIND__VMA_AIO;
}

static int decode_word(VmaKind kind, const char *w, uint32_t *bits, uint32_t *seen, char *why,
		       size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(vm_flag_rules); i++) {
		const struct vm_flag_rule *r = &vm_flag_rules[i];

		if (strcmp(w, r->name))
			continue;
		/* An io_uring ring's mapping is the kernel's, made again by
		 * mapping its fd (io-uring.c): the flags come with it. */
		if (kind == VMA_KIND__VMA_IO_URING && (!strcmp(w, "de") || !strcmp(w, "mm")))
			return 0;
		if (r->rule == FLAG_REFUSED) {
			snprintf(why, len, "is %s (VmFlags %s)", r->words, w);
			return -EOPNOTSUPP;
		}
		*bits |= r->bit;
		if (!strcmp(w, "mw"))
			*seen |= 1;
		return 0;
	}
	snprintf(why, len, "has the VmFlag \"%.8s\", which lmproc does not know", w);
	return -EOPNOTSUPP;
}

/* What only the whole set of flags says: whether the kernel accounts the
 * memory as it would a restored mapping, and the file's write access. */
static int vma_attrs_shape(const struct vma_shape *s, uint32_t bits, bool mw, char *why,
			   size_t len)
{
	bool private = s->kind == VMA_KIND__VMA_ANON_PRIVATE ||
		       s->kind == VMA_KIND__VMA_FILE_PRIVATE;
	bool ac = bits & RST_VMA_ACCOUNT, nr = s->flags & MAP_NORESERVE;

	if ((bits & RST_VMA_LOCK_ONFAULT) && !(bits & RST_VMA_LOCK)) {
		snprintf(why, len, "is locked on fault but not locked (VmFlags lf without lo)");
		return -EINVAL;
	}
	if (ac && (!private || nr)) {
		snprintf(why, len, "is accounted (VmFlags ac) though %s",
			 private ? "MAP_NORESERVE" : "shared");
		return -EINVAL;
	}
	if (private && !ac && !nr && (s->prot & PROT_WRITE)) {
		/* Any writable private mapping lmproc can make is accounted. */
		snprintf(why, len, "is writable private memory the kernel does not account "
			 "(VmFlags without ac nor nr)");
		return -EOPNOTSUPP;
	}
	if (s->kind == VMA_KIND__VMA_FILE_SHARED && s->file_rw >= 0 && mw != !!s->file_rw) {
		snprintf(why, len, "%s be made writable (VmFlags %s mw), but its file is opened "
			 "%s by the restore", mw ? "may" : "may not", mw ? "with" : "without",
			 s->file_rw ? "read-write" : "read-only");
		return -EOPNOTSUPP;
	}
	return 0;
}

int vma_attrs_decode(char *const *lines, size_t n, const struct vma_shape *s, uint32_t *bits,
		     char *why, size_t len)
{
	uint32_t seen = 0;
	int ret;

	*bits = 0;
	if (is_special(s->kind))
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = lines[i];

		while (*p) {
			size_t k = strcspn(p, " ");
			char word[16];

			if (k) {
				snprintf(word, sizeof(word), "%.*s", (int)min(k, sizeof(word) - 1), p);
				ret = decode_word(s->kind, word, bits, &seen, why, len);
				if (ret)
					return ret;
			}
			p += k + strspn(p + k, " ");
		}
	}
	return vma_attrs_shape(s, *bits, seen & 1, why, len);
}

/* The VmFlags of the mapping at ADDR in /proc/PID/smaps, read only as
 * far as that mapping: the kernel walks each mapping's pages as it prints
 * it (~30 ms per GiB here), and the parasite's mapping, made last, lies
 * below the tree's large mappings (new mappings go top-down), so most of
 * those walks are never asked for. */
static int vm_flags_at(pid_t pid, uint64_t addr, char *out, size_t len)
{
	char path[64], head[32], *line = NULL;
	size_t cap = 0, hl;
	bool in = false;
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("Can't read %s", path);
		return -errno;
	}
	hl = snprintf(head, sizeof(head), "%lx-", (unsigned long)addr);
	while (getline(&line, &cap, f) > 0) {
		if (!in) {
			in = !strncmp(line, head, hl);
			continue;
		}
		if (strncmp(line, "VmFlags:", 8))
			continue;
		snprintf(out, len, "%.*s", (int)strcspn(line + 9, "\n"), line + 9);
		ret = 0;
		break;
	}
	free(line);
	fclose(f);
	if (ret)
		pr_err("pid %d: the parasite's mapping at 0x%lx is not in %s\n", pid,
		       (unsigned long)addr, path);
	return ret;
}

/* The VmFlags of the mapping at ADDR (from the VMA iterator, else
 * smaps): the parasite's, made just now, got the mm's def_flags, which
 * only mlockall(MCL_FUTURE) sets to VM_LOCKED (and VM_LOCKONFAULT with
 * MCL_ONFAULT). */
static int probe_def_flags(pid_t pid, uint64_t addr, uint32_t *mlockall_flags)
{
	struct vma v;
	int ret;

	memset(&v, 0, sizeof(v));
	ret = vma_iter_flags_at(pid, addr, v.vm_flags, sizeof(v.vm_flags));
	if (ret == -EAGAIN)
		ret = vm_flags_at(pid, addr, v.vm_flags, sizeof(v.vm_flags));
	if (ret)
		return ret;
	*mlockall_flags = 0;
	if (vma_has_flag(&v, "lo"))
		*mlockall_flags |= MCL_FUTURE;
	if (vma_has_flag(&v, "lf"))
		*mlockall_flags |= MCL_ONFAULT;
	return 0;
}

int mm_attrs_collect(pid_t pid, uint64_t probe, const struct parasite_misc *m,
		     struct vm_area_list *vl)
{
	if (m->memory_merge) {
		pr_err("pid %d has every mapping mergeable by KSM (prctl PR_SET_MEMORY_MERGE), "
		       "which needs CAP_SYS_RESOURCE to set again: not supported\n", pid);
		return -EOPNOTSUPP;
	}
	if (m->thp_disable < 0 || m->thp_disable > 3) {
		pr_err("pid %d: prctl(PR_GET_THP_DISABLE) says %d\n", pid, m->thp_disable);
		return -EINVAL;
	}
	vl->thp_disable = m->thp_disable;
	return probe_def_flags(pid, probe, &vl->mlockall_flags);
}

void mm_attrs_fill(MmEntry *mm, const struct vm_area_list *vl)
{
	mm->has_thp_disable = vl->thp_disable != 0;
	mm->thp_disable = vl->thp_disable;
	mm->has_mlockall = vl->mlockall_flags != 0;
	mm->mlockall = vl->mlockall_flags;
}

int mm_attrs_check(const char *img, const MmEntry *mm)
{
	if (mm->has_thp_disable && mm->thp_disable != 0 && mm->thp_disable != 1 &&
	    mm->thp_disable != 3)
		return restore_plan_bad(img, "THP disable %u (not 0, 1 or 3)", mm->thp_disable);
	if (mm->has_mlockall && mm->mlockall != 0 && mm->mlockall != MCL_FUTURE &&
	    mm->mlockall != (MCL_FUTURE | MCL_ONFAULT))
		return restore_plan_bad(img, "mlockall flags 0x%x", mm->mlockall);
	return 0;
}

void mm_attrs_fill_args(const MmEntry *mm, struct restorer_args *a)
{
	a->thp_disable = mm->has_thp_disable ? mm->thp_disable : 0;
	a->mlockall_flags = mm->has_mlockall ? mm->mlockall : 0;
	a->mem_fd = -1;
}

void mm_attrs_map_vma(const struct restore_plan *p, size_t i, struct restorer_vma *rv)
{
	const VmaEntry *v = p->mm->vmas[i];
	bool private = v->kind == VMA_KIND__VMA_ANON_PRIVATE ||
		       v->kind == VMA_KIND__VMA_FILE_PRIVATE;

	if (!private || (v->flags & MAP_NORESERVE))
		return;
	if (rv->madv & RST_VMA_ACCOUNT) {
		/* mprotect() accounts what it makes writable; it stays so. */
		rv->map_prot |= PROT_WRITE;
		if (v->kind == VMA_KIND__VMA_ANON_PRIVATE && !(v->prot & PROT_WRITE) &&
		    !p->vma_filled[i])
			rv->madv |= RST_VMA_ANON_VMA;
		return;
	}
	if (p->vma_filled[i] && !(v->prot & PROT_WRITE)) {
		rv->map_prot = v->prot;
		rv->madv |= RST_VMA_FORCE_FILL;
	}
}
