/* SPDX-License-Identifier: MIT */
/* Context switch for AArch64 (AAPCS64); offsets match struct aw__ctx in coro_internal.h. */
#if defined(__aarch64__) && !defined(AW_CORO_UCONTEXT)

/*
 * Under -mbranch-protection=bti the linker keeps BTI for the whole program
 * only if every object says it has landing pads; without the note below, this
 * one file would silently switch BTI off. `hint #34` is `bti c`, and a no-op
 * on cores without BTI. The trampoline needs no landing pad: only the
 * switch's `ret` reaches it, and BTI does not check returns.
 */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define AW_BTI_C hint #34
    .pushsection .note.gnu.property, "a"
    .p2align 3
    .long 4          /* name size */
    .long 16         /* descriptor size */
    .long 5          /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz "GNU"
    .long 0xc0000000 /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .long 4
    .long 1          /* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
    .long 0
    .popsection
#else
#define AW_BTI_C
#endif

    .text
/* void aw__ctx_switch(struct aw__ctx *from, struct aw__ctx *to) */
    .globl aw__ctx_switch
    .hidden aw__ctx_switch
    .type aw__ctx_switch, %function
    .p2align 4
aw__ctx_switch:
    .cfi_startproc
    AW_BTI_C
    mov     x9, sp
    str     x9, [x0, #0]
    stp     x19, x20, [x0, #8]
    stp     x21, x22, [x0, #24]
    stp     x23, x24, [x0, #40]
    stp     x25, x26, [x0, #56]
    stp     x27, x28, [x0, #72]
    stp     x29, x30, [x0, #88]
    stp     d8, d9, [x0, #104]
    stp     d10, d11, [x0, #120]
    stp     d12, d13, [x0, #136]
    stp     d14, d15, [x0, #152]
    mrs     x9, fpcr
    str     x9, [x0, #168]

    ldr     x9, [x1, #0]
    mov     sp, x9
    ldp     x19, x20, [x1, #8]
    ldp     x21, x22, [x1, #24]
    ldp     x23, x24, [x1, #40]
    ldp     x25, x26, [x1, #56]
    ldp     x27, x28, [x1, #72]
    ldp     x29, x30, [x1, #88]
    ldp     d8, d9, [x1, #104]
    ldp     d10, d11, [x1, #120]
    ldp     d12, d13, [x1, #136]
    ldp     d14, d15, [x1, #152]
    ldr     x9, [x1, #168]
    msr     fpcr, x9
    /* x30 is the target's return address, or the trampoline for a new coroutine. */
    ret
    .cfi_endproc
    .size aw__ctx_switch, .-aw__ctx_switch

/* First code a new coroutine runs: x19 holds the coroutine, x20 its entry. */
    .globl aw__ctx_trampoline
    .hidden aw__ctx_trampoline
    .type aw__ctx_trampoline, %function
    .p2align 4
aw__ctx_trampoline:
    .cfi_startproc
    /* Nothing called us: tell debuggers and unwinders the chain ends here,
     * both those that read CFI and those that follow the x29 frame records. */
    .cfi_undefined x30
    mov     x29, #0
    mov     x0, x19
    blr     x20
    brk     #0      /* the entry function switches away for good and never returns */
    .cfi_endproc
    .size aw__ctx_trampoline, .-aw__ctx_trampoline

#endif
    .section .note.GNU-stack, "", %progbits
