// struct hvm_start_info and struct hvm_memmap_table_entry
// (xen/include/public/arch-x86/hvm/start_info.h): what a PVH guest finds at
// the physical address Xen passes in ebx at its 32-bit entry point.
//
//   0  magic (u32)           XEN_HVM_START_MAGIC_VALUE
//   4  version (u32)         1 and later have the memory map
//   8  flags (u32)           SIF_* (as start_info.flags)
//  12  nr_modules (u32)
//  16  modlist_paddr
//  24  cmdline_paddr         NUL-terminated command line (xl `extra=`), 0 if none
//  32  rsdp_paddr            ACPI RSDP
//  40  memmap_paddr          array of hvm_memmap_table_entry
//  48  memmap_entries (u32)
//  52  reserved (u32)
export const XEN_HVM_START_MAGIC_VALUE = 0x336ec578;
export const HVM_START_INFO_MAGIC = 0;
export const HVM_START_INFO_VERSION = 4;
export const HVM_START_INFO_FLAGS = 8;
export const HVM_START_INFO_NR_MODULES = 12;
export const HVM_START_INFO_MODLIST_PADDR = 16;
export const HVM_START_INFO_CMDLINE_PADDR = 24;
export const HVM_START_INFO_RSDP_PADDR = 32;
export const HVM_START_INFO_MEMMAP_PADDR = 40;
export const HVM_START_INFO_MEMMAP_ENTRIES = 48;
export const HVM_START_INFO_SIZE = 56;

// struct hvm_memmap_table_entry { uint64_t addr, size; uint32_t type, reserved; }
export const HVM_MEMMAP_ENTRY_ADDR = 0;
export const HVM_MEMMAP_ENTRY_SIZE = 8;
export const HVM_MEMMAP_ENTRY_TYPE = 16;
export const HVM_MEMMAP_ENTRY_BYTES = 24;

// hvm_memmap_table_entry.type: the E820 types
export const XEN_HVM_MEMMAP_TYPE_RAM = 1;
export const XEN_HVM_MEMMAP_TYPE_RESERVED = 2;
export const XEN_HVM_MEMMAP_TYPE_ACPI = 3;
export const XEN_HVM_MEMMAP_TYPE_NVS = 4;
export const XEN_HVM_MEMMAP_TYPE_UNUSABLE = 5;
export const XEN_HVM_MEMMAP_TYPE_DISABLED = 6;
export const XEN_HVM_MEMMAP_TYPE_PMEM = 7;
