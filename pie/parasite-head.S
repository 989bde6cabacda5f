/* Entry and exits of the parasite blob: the only code of it that lmproc
 * jumps to or traps at.  Must stay first in the image (.head.text).
 *
 * lmproc enters at parasite_export_entry with rsp at the 16-byte aligned
 * top of the parasite stack, rdi pointing at the shared struct
 * parasite_area, all maskable signals blocked.  The daemon's return value
 * is left in rax for lmproc, which regains control at the int3 and never
 * resumes the task past it.  A daemon whose lmproc went away never
 * returns: it leaves through parasite_sigreturn. */
	.section .head.text, "ax"

	.globl	parasite_export_entry
	.type	parasite_export_entry, @function
parasite_export_entry:
	call	parasite_daemon

	.globl	parasite_export_trap
	.type	parasite_export_trap, @function
parasite_export_trap:
	int3
	jmp	parasite_export_trap

/* rdi: the frame's uc_flags, where rt_sigreturn expects rsp (it reads
 * the frame at rsp - 8).  The kernel refuses a bad frame with SIGSEGV:
 * nothing follows the syscall. */
	.globl	parasite_sigreturn
	.type	parasite_sigreturn, @function
parasite_sigreturn:
	movq	%rdi, %rsp
	movl	$15, %eax
	syscall
	ud2

	.section .note.GNU-stack, "", @progbits
