/* Entry points of the restorer blob (first in the image, pie/pie.lds).
 * The task jumps to restorer_export_entry with %rdi = struct restorer_args
 * and %rsp at the top of the area's stack.  lmproc points the stopped
 * task at restorer_export_syscall to run the munmap of the area itself:
 * the task never returns to the blob after that call. */
	.section .head.text, "ax"

	.globl restorer_export_entry
	.type restorer_export_entry, @function
restorer_export_entry:
	andq	$-16, %rsp
	call	restorer_main
	ud2

	.globl restorer_export_syscall
	.type restorer_export_syscall, @function
restorer_export_syscall:
	syscall
	ud2

	.section .note.GNU-stack, "", @progbits
