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

/* long restorer_spawn(unsigned long flags, void *stack_top, uint32_t *ctid,
 *		       void (*fn)(void *), void *arg)
 * clone() of a thread that runs fn(arg) on stack_top and exits; returns
 * the tid or a negative errno in the caller. */
	.globl restorer_spawn
	.type restorer_spawn, @function
restorer_spawn:
	subq	$16, %rsi
	movq	%rcx, 0(%rsi)
	movq	%r8, 8(%rsi)
	movq	%rdx, %r10
	xorl	%edx, %edx
	xorl	%r8d, %r8d
	movl	$56, %eax		/* __NR_clone */
	syscall
	testq	%rax, %rax
	jnz	1f
	popq	%rax
	popq	%rdi
	call	*%rax
	movl	$60, %eax		/* __NR_exit: this thread only */
	xorl	%edi, %edi
	syscall
	ud2
1:	ret

/* long restorer_clone3(struct clone_args *args, unsigned long size)
 * clone3() of a thread that pops fn and arg from its new stack (the
 * caller put them at stack + stack_size) and runs fn(arg), which never
 * returns; the tid or a negative errno in the caller. */
	.globl restorer_clone3
	.type restorer_clone3, @function
restorer_clone3:
	movl	$435, %eax		/* __NR_clone3 */
	syscall
	testq	%rax, %rax
	jnz	1f
	popq	%rax
	popq	%rdi
	call	*%rax
	ud2
1:	ret

	.globl restorer_export_syscall
	.type restorer_export_syscall, @function
restorer_export_syscall:
	syscall
	ud2

	.section .note.GNU-stack, "", @progbits
