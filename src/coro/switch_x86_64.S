/* SPDX-License-Identifier: MIT */
/* Context switch for x86-64 System V; offsets match struct aw__ctx in coro_internal.h. */
#if defined(__x86_64__) && !defined(AW_CORO_UCONTEXT)

/*
 * Under -fcf-protection the linker keeps CET (IBT, shadow stack) for the
 * program only if every object is marked; unmarked, this file would switch
 * it off silently. A shadow stack cannot follow a switch to another stack
 * without its own switch, so we claim IBT only (endbr64 is a no-op on older
 * cores).
 */
#if defined(__CET__) && (__CET__ & 1)
#define AW_ENDBR endbr64
    .pushsection .note.gnu.property, "a"
    .p2align 3
    .long 4          /* name size */
    .long 16         /* descriptor size */
    .long 5          /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz "GNU"
    .long 0xc0000002 /* GNU_PROPERTY_X86_FEATURE_1_AND */
    .long 4
    .long 1          /* GNU_PROPERTY_X86_FEATURE_1_IBT */
    .long 0
    .popsection
#else
#define AW_ENDBR
#endif

    .text
/* void aw__ctx_switch(struct aw__ctx *from, struct aw__ctx *to) */
    .globl aw__ctx_switch
    .hidden aw__ctx_switch
    .type aw__ctx_switch, @function
    .p2align 4
aw__ctx_switch:
    .cfi_startproc
    AW_ENDBR
    movq    %rsp, 0(%rdi)
    movq    %rbx, 8(%rdi)
    movq    %rbp, 16(%rdi)
    movq    %r12, 24(%rdi)
    movq    %r13, 32(%rdi)
    movq    %r14, 40(%rdi)
    movq    %r15, 48(%rdi)
    stmxcsr 56(%rdi)
    fnstcw  60(%rdi)

    movq    0(%rsi), %rsp
    movq    8(%rsi), %rbx
    movq    16(%rsi), %rbp
    movq    24(%rsi), %r12
    movq    32(%rsi), %r13
    movq    40(%rsi), %r14
    movq    48(%rsi), %r15
    ldmxcsr 56(%rsi)
    fldcw   60(%rsi)
    /* Pops the return address saved by the target's own call to us, or the
     * trampoline's address for a coroutine that has not run yet. */
    ret
    .cfi_endproc
    .size aw__ctx_switch, .-aw__ctx_switch

/* First code a new coroutine runs: rbx holds the coroutine, r12 its entry. */
    .globl aw__ctx_trampoline
    .hidden aw__ctx_trampoline
    .type aw__ctx_trampoline, @function
    .p2align 4
aw__ctx_trampoline:
    .cfi_startproc
    /* Nothing called us: tell debuggers and unwinders the chain ends here. */
    .cfi_undefined rip
    AW_ENDBR
    movq    %rbx, %rdi
    callq   *%r12
    ud2     /* the entry function switches away for good and never returns */
    .cfi_endproc
    .size aw__ctx_trampoline, .-aw__ctx_trampoline

#endif
    .section .note.GNU-stack, "", @progbits
