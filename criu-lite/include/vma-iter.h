/* The text collect_vmas() parses: /proc/PID/smaps, or the same header and
 * VmFlags lines made from /proc/PID/maps and a BPF task_vma iterator,
 * which gives each mapping's vm_flags without the page-table walk smaps
 * does for its Rss/Pss lines (~34 ms per GiB resident, frozen).
 *
 *	vma_iter_prepare();		before the freeze: load, calibrate
 *	buf = vma_text_read(pid);	frozen: malloc'ed text, NULL + errno
 *
 * The kernel's VM_* bit values are not ABI: vma_iter_prepare() learns
 * which mnemonic each bit prints by comparing, in a child with mappings of
 * known attributes, the iterator's flags with the child's smaps.  A
 * mapping with a bit it did not learn, a kernel without task_vma
 * iterators or a caller without CAP_BPF: smaps, as before (one line at
 * -v3 says why).  LMPROC_VMAS=smaps forces smaps; LMPROC_VMAS=check reads
 * both and fails the read, naming the first line that differs, unless
 * they are the same. */
#ifndef LMPROC_VMA_ITER_H
#define LMPROC_VMA_ITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

void vma_iter_prepare(void);
char *vma_text_read(pid_t pid);
/* The VmFlags value smaps prints for PID's mapping starting at ADDR, into
 * OUT; -EAGAIN: read smaps instead. */
int vma_iter_flags_at(pid_t pid, uint64_t addr, char *out, size_t len);

#endif
