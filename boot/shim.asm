; boot/shim.asm - the x86-64 entry points of every tsxen image: one ELF that
; Xen boots as a PV guest (type = "pv") or as a PVH guest (type = "pvh").
;
; What it provides (xen/include/public/elfnote.h, xen.h, and
; arch-x86/hvm/start_info.h / docs/misc/pvh.pandoc for PVH):
;  - the Xen ELF notes: the PV ones (GUEST_OS, XEN_VERSION, VIRT_BASE 0,
;    PADDR_OFFSET 0, ENTRY, HYPERCALL_PAGE, LOADER, FEATURES) and PHYS32_ENTRY,
;    the 32-bit physical entry point a PVH domain builder looks for;
;  - _start, the PV entry (64-bit, Xen's page tables, rsi = start_info);
;  - pvh_start, the PVH entry (32-bit protected mode, paging off, ebx =
;    hvm_start_info): loads our GDT, maps the first 1 GiB with 2 MiB pages,
;    enables SSE, enters long mode and calls tsxen_boot_pvh (boot_pvh.c),
;    which replaces this bootstrap mapping with the final one (mm_pvh.c);
;  - the hypercall page: Xen fills it from the HYPERCALL_PAGE note under PV;
;    under PVH boot_pvh.c asks for it through the MSR Xen names in CPUID.
;    Either way a hypercall is `call hypercall_page + nr*32`;
;  - the boot stack, with an unmapped guard page below it;
;  - exception entry stubs for both modes (Xen's PV trap frame has rcx and
;    r11 on top of the hardware frame; a PVH guest gets the hardware frame)
;    that build one C struct and call tsxen_trap() (traps.c);
;  - the GDT (the PVH path loads it; traps.c adds the TSS to it).
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
%define XEN_ELFNOTE_SUSPEND_CANCEL 14
%define XEN_ELFNOTE_PHYS32_ENTRY   18

%define STACK_SIZE (256 * 1024)

; GDT selectors (the layout is below; traps.c fills in the TSS descriptor)
%define GDT_CODE64 0x08
%define GDT_DATA   0x10

; Control-register and MSR bits the PVH entry sets
%define CR0_PE        (1 << 0)
%define CR0_MP        (1 << 1)
%define CR0_EM        (1 << 2)
%define CR0_TS        (1 << 3)
%define CR0_NE        (1 << 5)
%define CR0_WP        (1 << 16)
%define CR0_PG        (1 << 31)
%define CR4_PAE       (1 << 5)
%define CR4_OSFXSR    (1 << 9)
%define CR4_OSXMMEXCPT (1 << 10)
%define MSR_EFER      0xC0000080
%define EFER_LME      (1 << 8)
%define PDE_2M_RW     0x83             ; present | writable | 2 MiB page
%define PTE_TABLE     0x03             ; present | writable

extern tsxen_boot, tsxen_boot_pvh, tsxen_trap, tsxen_bad_callback
global _start, pvh_start, hypercall_page, boot_stack_guard, boot_stack_top
global pvh_pml4, pvh_pdpt, pvh_pd, gdt

; ---- ELF notes: name "Xen", 4-byte aligned fields (elfnote.h) ----
section .note.Xen note alloc noexec nowrite align=4
%macro NOTE 2+                          ; type, payload (db/dd/dq ...)
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
    NOTE XEN_ELFNOTE_PHYS32_ENTRY,   dd pvh_start
    ; a cancelled suspend (xl save -c, a failed migration) returns 1 and the
    ; guest carries on (runtime/native/suspend.c)
    NOTE XEN_ELFNOTE_SUSPEND_CANCEL, dd 1

; ---- PV entry ----
section .text.entry exec nowrite align=16
_start:
    rdtsc                               ; the guest's boot time starts here (runtime/boot_time.ts)
    mov [rel boot_tsc], eax
    mov [rel boot_tsc + 4], edx
    lea rsp, [boot_stack_top]
    xor ebp, ebp
    mov rdi, rsi                        ; rsi = start_info (Xen's start-of-day ABI)
    call tsxen_boot
.hang:                                  ; the boot functions never return
    hlt
    jmp .hang

; ---- PVH entry ----
; Xen starts a PVH vCPU in 32-bit protected mode with flat segments, paging
; off, interrupts off and ebx = the physical address of struct hvm_start_info.
; The image is loaded at its link address, so physical = link address here.
BITS 32
pvh_start:
    cli
    cld
    mov esi, ebx                        ; kept for tsxen_boot_pvh
    rdtsc                               ; boot time starts here, as under PV (runtime/boot_time.ts);
    mov [boot_tsc], eax                 ; ds is flat at the PVH entry (Xen's start-of-day state)
    mov [boot_tsc + 4], edx
    lgdt [gdt_pointer]                  ; 32-bit lgdt reads the limit and the low 4 base bytes
    mov ax, GDT_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    ; Bootstrap mapping: the first 1 GiB, identity, with 2 MiB pages.
    mov edi, pvh_pd
    mov eax, PDE_2M_RW
    mov ecx, 512
.fill_pd:
    mov [edi], eax
    mov dword [edi + 4], 0
    add eax, 0x200000
    add edi, 8
    loop .fill_pd
    mov dword [pvh_pdpt], pvh_pd + PTE_TABLE
    mov dword [pvh_pdpt + 4], 0
    mov dword [pvh_pml4], pvh_pdpt + PTE_TABLE
    mov dword [pvh_pml4 + 4], 0
    mov eax, pvh_pml4
    mov cr3, eax
    ; PAE paging, and SSE usable (gcc's code uses SSE2 for f64)
    mov eax, cr4
    or eax, CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT
    mov cr4, eax
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_LME
    wrmsr
    mov eax, cr0
    and eax, ~(CR0_EM | CR0_TS)
    or eax, CR0_PE | CR0_MP | CR0_NE | CR0_WP | CR0_PG
    mov cr0, eax                        ; paging on: long mode is active (compatibility mode)
    jmp GDT_CODE64:pvh_start64

BITS 64
pvh_start64:
    mov ax, GDT_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    lgdt [gdt_pointer]                  ; again, with all 8 base bytes
    lea rsp, [boot_stack_top]
    xor ebp, ebp
    mov edi, esi                        ; hvm_start_info (zero-extended: the upper halves are undefined after the mode switch)
    call tsxen_boot_pvh
    jmp _start.hang

; ---- exceptions ----
; Under PV, Xen delivers a 64-bit exception with rcx and r11 pushed on top
; of the hardware frame: [rcx, r11, (error code), rip, cs, rflags, rsp, ss];
; the PV stubs restore rcx/r11 and drop them. Under PVH the CPU pushes the
; hardware frame itself (on the IST stack, see traps.c). Both push a 0
; error code where the CPU pushes none, push the vector, save the GPRs, and
; call tsxen_trap(struct trap_frame *).
%macro PV_TRAP 2                        ; vector, 1 if the CPU pushes an error code
global trap_%1
trap_%1:
    mov rcx, [rsp]
    mov r11, [rsp + 8]
    add rsp, 16
%if %2 == 0
    push 0
%endif
    push %1
    jmp trap_common
%endmacro
%macro PVH_TRAP 2
global pvh_trap_%1
pvh_trap_%1:
%if %2 == 0
    push 0
%endif
    push %1
    jmp trap_common
%endmacro

    PV_TRAP 0, 0    ; divide error
    PV_TRAP 1, 0    ; debug
    PV_TRAP 3, 0    ; int3
    PV_TRAP 4, 0    ; overflow
    PV_TRAP 5, 0    ; bound
    PV_TRAP 6, 0    ; invalid opcode
    PV_TRAP 7, 0    ; device not available
    PV_TRAP 9, 0    ; coprocessor segment overrun
    PV_TRAP 10, 1   ; invalid TSS
    PV_TRAP 11, 1   ; segment not present
    PV_TRAP 12, 1   ; stack fault
    PV_TRAP 13, 1   ; general protection
    PV_TRAP 14, 1   ; page fault
    PV_TRAP 16, 0   ; x87 floating point
    PV_TRAP 17, 1   ; alignment check
    PV_TRAP 18, 0   ; machine check
    PV_TRAP 19, 0   ; SIMD floating point

    PVH_TRAP 0, 0
    PVH_TRAP 1, 0
    PVH_TRAP 2, 0   ; NMI
    PVH_TRAP 3, 0
    PVH_TRAP 4, 0
    PVH_TRAP 5, 0
    PVH_TRAP 6, 0
    PVH_TRAP 7, 0
    PVH_TRAP 8, 1   ; double fault
    PVH_TRAP 9, 0
    PVH_TRAP 10, 1
    PVH_TRAP 11, 1
    PVH_TRAP 12, 1
    PVH_TRAP 13, 1
    PVH_TRAP 14, 1
    PVH_TRAP 15, 0  ; reserved
    PVH_TRAP 16, 0
    PVH_TRAP 17, 1
    PVH_TRAP 18, 0
    PVH_TRAP 19, 0

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

; ---- data ----
section .data
global boot_tsc
boot_tsc: dq 0                          ; the TSC at the first instruction (PV or PVH entry)

; ---- GDT (PVH; a PV guest runs on Xen's) ----
align 16
gdt:
    dq 0                                ; null
    dq 0x00af9a000000ffff               ; 0x08: 64-bit code, ring 0
    dq 0x00cf92000000ffff               ; 0x10: flat data, ring 0
    dq 0, 0                             ; 0x18: 64-bit TSS (16 bytes), filled in by traps.c
gdt_end:
align 8
gdt_pointer:
    dw gdt_end - gdt - 1
    dq gdt

; ---- the hypercall page ----
section .hypercall_page progbits alloc exec nowrite align=4096
hypercall_page:
    times 4096 db 0xcc

; ---- boot stack with a guard page (unmapped at boot), PVH bootstrap page tables ----
section .bss nobits alloc noexec write align=4096
boot_stack_guard:
    resb 4096
    resb STACK_SIZE
boot_stack_top:
pvh_pml4:
    resb 4096
pvh_pdpt:
    resb 4096
pvh_pd:
    resb 4096
