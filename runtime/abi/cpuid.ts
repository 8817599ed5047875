// Xen's CPUID leaves (xen/include/public/arch-x86/cpuid.h). A PVH guest
// finds Xen at leaf 0x40000000 (or 0x100 steps above) by this signature,
// "XenVMMXenVMM"; leaf +2 names the MSR that installs its hypercall page.
// Used by runtime/native/boot_pvh.c (which has its own copy, checked
// against these by tests/golden/native-abi.test.ts).
export const XEN_CPUID_FIRST_LEAF = 0x40000000;
export const XEN_CPUID_SIGNATURE_EBX = 0x566e6558;
export const XEN_CPUID_SIGNATURE_ECX = 0x65584d4d;
export const XEN_CPUID_SIGNATURE_EDX = 0x4d4d566e;
