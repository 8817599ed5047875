; boot/shim.asm - the x86-64 Xen PV entry point of every tsxen image.
;
; What it provides (xen/include/public/elfnote.h, xen.h):
;  - the Xen ELF notes that make the ELF a PV kernel (GUEST_OS, XEN_VERSION,
;    VIRT_BASE 0, PADDR_OFFSET 0, ENTRY, HYPERCALL_PAGE, LOADER, FEATURES);
;  - the hypercall page Xen fills in (64-bit PV ABI: call hypercall_page+nr*32);
;  - the boot stack, with an unmapped guard page below it (see boot.c);
;  - exception entry stubs that turn Xen's PV trap frame into a C struct and
;    call tsxen_trap() (traps.c), plus event/failsafe callback stubs.
; Everything else (memory, console, wasm) is C: runtime/native/.
;
; Build: nasm -f elf64 shim.asm; linked by boot/tsxen.ld at 1 MiB.

BITS 64
DEFAULT REL

%define XEN_ELFNOTE_ENTRY          1
%define XEN_ELFNOTE_HYPERCALL_PAGE 2
%define XEN_ELFNOTE_VIRT_BASE      3
%define XEN_ELFNOTE_PADDR_OFFSET   4
%define XEN_ELFNOTE_XEN_VERSION    5
%define XEN_ELFNOTE_GUEST_OS       6
%define XEN_ELFNOTE_GUEST_VERSION  7
%define XEN_ELFNOTE_LOADER         8
%define XEN_ELFNOTE_FEATURES       10

%define STACK_SIZE (256 * 1024)

extern tsxen_boot, tsxen_trap, tsxen_bad_callback
global _start, hypercall_page, boot_stack_guard, boot_stack_top

; ---- ELF notes: name "Xen", 4-byte aligned fields (elfnote.h) ----
section .note.Xen note alloc noexec nowrite align=4
%macro NOTE 2+                          ; type, payload (db/dq ...)
    dd 4, %%end - %%desc, %1
    db "Xen", 0
%%desc: %2
%%end:
    align 4, db 0
%endmacro
    NOTE XEN_ELFNOTE_GUEST_OS,       db "tsxen", 0
    NOTE XEN_ELFNOTE_GUEST_VERSION,  db "0.1", 0
    NOTE XEN_ELFNOTE_XEN_VERSION,    db "xen-3.0", 0
    NOTE XEN_ELFNOTE_VIRT_BASE,      dq 0
    NOTE XEN_ELFNOTE_PADDR_OFFSET,   dq 0
    NOTE XEN_ELFNOTE_ENTRY,          dq _start
    NOTE XEN_ELFNOTE_HYPERCALL_PAGE, dq hypercall_page
    NOTE XEN_ELFNOTE_LOADER,         db "generic", 0
    NOTE XEN_ELFNOTE_FEATURES,       db "!writable_page_tables|pae_pgdir_above_4gb", 0

; ---- entry ----
section .text.entry exec nowrite align=16
_start:
    rdtsc                               ; the guest's boot time starts here (runtime/boot_time.ts)
    mov [rel boot_tsc], eax
    mov [rel boot_tsc + 4], edx
    lea rsp, [boot_stack_top]
    xor ebp, ebp
    mov rdi, rsi                        ; rsi = start_info (Xen's start-of-day ABI)
    call tsxen_boot
.hang:                                  ; tsxen_boot never returns
    hlt
    jmp .hang

; ---- exceptions ----
; Xen delivers a 64-bit PV exception with rcx and r11 pushed on top of the
; hardware frame: [rcx, r11, (error code), rip, cs, rflags, rsp, ss].
; The stubs restore rcx/r11, push a 0 error code where the CPU pushes none,
; push the vector, save the GPRs, and call tsxen_trap(struct trap_frame *).
%macro TRAP_NOERR 1
global trap_%1
trap_%1:
    mov rcx, [rsp]
    mov r11, [rsp + 8]
    add rsp, 16
    push 0
    push %1
    jmp trap_common
%endmacro
%macro TRAP_ERR 1
global trap_%1
trap_%1:
    mov rcx, [rsp]
    mov r11, [rsp + 8]
    add rsp, 16
    push %1
    jmp trap_common
%endmacro

    TRAP_NOERR 0    ; divide error
    TRAP_NOERR 1    ; debug
    TRAP_NOERR 3    ; int3
    TRAP_NOERR 4    ; overflow
    TRAP_NOERR 5    ; bound
    TRAP_NOERR 6    ; invalid opcode
    TRAP_NOERR 7    ; device not available
    TRAP_NOERR 9    ; coprocessor segment overrun
    TRAP_ERR   10   ; invalid TSS
    TRAP_ERR   11   ; segment not present
    TRAP_ERR   12   ; stack fault
    TRAP_ERR   13   ; general protection
    TRAP_ERR   14   ; page fault
    TRAP_NOERR 16   ; x87 floating point
    TRAP_ERR   17   ; alignment check
    TRAP_NOERR 18   ; machine check
    TRAP_NOERR 19   ; SIMD floating point

trap_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    and rsp, -16                        ; the C ABI wants a 16-byte aligned stack
    call tsxen_trap                     ; reports and shuts the domain down
    jmp _start.hang

; Upcalls stay masked (events are polled), so Xen should never enter these;
; if it does, say so instead of hanging.
global event_callback, failsafe_callback
event_callback:
    mov edi, 0
    and rsp, -16
    call tsxen_bad_callback
failsafe_callback:
    mov edi, 1
    and rsp, -16
    call tsxen_bad_callback

; ---- the hypercall page, filled in by Xen's domain builder ----
section .data
global boot_tsc
boot_tsc: dq 0

section .hypercall_page progbits alloc exec nowrite align=4096
hypercall_page:
    times 4096 db 0xcc

; ---- boot stack with a guard page (unmapped at boot) ----
section .bss nobits alloc noexec write align=4096
boot_stack_guard:
    resb 4096
    resb STACK_SIZE
boot_stack_top:
