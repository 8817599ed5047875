// The native boot code's own Xen header (runtime/native/xen_abi.h, used
// before wasm runs, where runtime/abi/ cannot be) must agree with
// runtime/abi/, which abi-golden.test.ts checks against Xen's headers: this
// test compiles xen_abi.h with the host gcc, prints each value below, and
// compares it with the runtime/abi constant of the same meaning.
import test from "tape";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as XEN from "../../runtime/abi/xen.ts";
import * as SI from "../../runtime/abi/start_info.ts";
import * as E from "../../runtime/abi/event_channel.ts";
import * as HSI from "../../runtime/abi/hvm_start_info.ts";
import * as HVM from "../../runtime/abi/hvm.ts";
import * as MEM from "../../runtime/abi/memory.ts";
import * as CPUID from "../../runtime/abi/cpuid.ts";
import * as CONS from "../../runtime/abi/console.ts";
import * as SH from "../../runtime/abi/shared_info.ts";

const NATIVE = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../runtime/native");
const off = (struct: string, field: string) => `__builtin_offsetof(struct ${struct}, ${field})`;

// C expression over xen_abi.h -> the runtime/abi value it must equal.
const PAIRS: [string, number][] = [
  ["HC_memory_op", XEN.HYPERVISOR_memory_op],
  ["HC_update_va_mapping", XEN.HYPERVISOR_update_va_mapping],
  ["HC_console_io", XEN.HYPERVISOR_console_io],
  ["HC_sched_op", XEN.HYPERVISOR_sched_op],
  ["HC_event_channel_op", XEN.HYPERVISOR_event_channel_op],
  ["HC_hvm_op", XEN.HYPERVISOR_hvm_op],
  ["HC_set_trap_table", XEN.HYPERVISOR_set_trap_table],
  ["HC_mmu_update", XEN.HYPERVISOR_mmu_update],
  ["HC_set_callbacks", XEN.HYPERVISOR_set_callbacks],
  ["HC_fpu_taskswitch", XEN.HYPERVISOR_fpu_taskswitch],
  ["CONSOLEIO_write", XEN.CONSOLEIO_write],
  ["SCHEDOP_yield", XEN.SCHEDOP_yield],
  ["SCHEDOP_shutdown", XEN.SCHEDOP_shutdown],
  ["SHUTDOWN_poweroff", XEN.SHUTDOWN_poweroff],
  ["SHUTDOWN_crash", XEN.SHUTDOWN_crash],
  ["SHUTDOWN_suspend", XEN.SHUTDOWN_suspend],
  ["SHARED_INFO_ARCH_MAX_PFN", SH.SHARED_INFO_ARCH_MAX_PFN],
  ["SHARED_INFO_ARCH_P2M_FRAME_LIST_LIST", SH.SHARED_INFO_ARCH_P2M_FRAME_LIST_LIST],
  ["EVTCHNOP_send", E.EVTCHNOP_send],
  ["DOMID_SELF", E.DOMID_SELF],
  ["SIF_INITDOMAIN", XEN.SIF_INITDOMAIN],
  ["MAX_GUEST_CMDLINE", SI.MAX_GUEST_CMDLINE],
  [off("start_info", "nr_pages"), SI.START_INFO_NR_PAGES],
  [off("start_info", "shared_info"), SI.START_INFO_SHARED_INFO],
  [off("start_info", "flags"), SI.START_INFO_FLAGS],
  [off("start_info", "store_mfn"), SI.START_INFO_STORE_MFN],
  [off("start_info", "console_mfn"), SI.START_INFO_CONSOLE_MFN],
  [off("start_info", "console_evtchn"), SI.START_INFO_CONSOLE_EVTCHN],
  [off("start_info", "pt_base"), SI.START_INFO_PT_BASE],
  [off("start_info", "nr_pt_frames"), SI.START_INFO_NR_PT_FRAMES],
  [off("start_info", "mfn_list"), SI.START_INFO_MFN_LIST],
  [off("start_info", "cmd_line"), SI.START_INFO_CMD_LINE],
  ["sizeof(struct start_info)", SI.START_INFO_SIZE],
  [off("xencons_interface", "out"), CONS.XENCONS_OUT],
  [off("xencons_interface", "out_cons"), CONS.XENCONS_OUT_CONS],
  [off("xencons_interface", "out_prod"), CONS.XENCONS_OUT_PROD],
  ["XENMEM_add_to_physmap", MEM.XENMEM_add_to_physmap],
  ["XENMAPSPACE_shared_info", MEM.XENMAPSPACE_shared_info],
  ["XENMAPSPACE_grant_table", MEM.XENMAPSPACE_grant_table],
  [off("xen_add_to_physmap", "domid"), MEM.XEN_ADD_TO_PHYSMAP_DOMID],
  [off("xen_add_to_physmap", "size"), MEM.XEN_ADD_TO_PHYSMAP_SIZE_FIELD],
  [off("xen_add_to_physmap", "space"), MEM.XEN_ADD_TO_PHYSMAP_SPACE],
  [off("xen_add_to_physmap", "idx"), MEM.XEN_ADD_TO_PHYSMAP_IDX],
  [off("xen_add_to_physmap", "gpfn"), MEM.XEN_ADD_TO_PHYSMAP_GPFN],
  ["sizeof(struct xen_add_to_physmap)", MEM.XEN_ADD_TO_PHYSMAP_SIZE],
  ["HVMOP_get_param", HVM.HVMOP_get_param],
  ["HVM_PARAM_STORE_PFN", HVM.HVM_PARAM_STORE_PFN],
  ["HVM_PARAM_STORE_EVTCHN", HVM.HVM_PARAM_STORE_EVTCHN],
  ["HVM_PARAM_CONSOLE_PFN", HVM.HVM_PARAM_CONSOLE_PFN],
  ["HVM_PARAM_CONSOLE_EVTCHN", HVM.HVM_PARAM_CONSOLE_EVTCHN],
  [off("xen_hvm_param", "domid"), HVM.XEN_HVM_PARAM_DOMID],
  [off("xen_hvm_param", "index"), HVM.XEN_HVM_PARAM_INDEX],
  [off("xen_hvm_param", "value"), HVM.XEN_HVM_PARAM_VALUE],
  ["sizeof(struct xen_hvm_param)", HVM.XEN_HVM_PARAM_SIZE],
  ["XEN_CPUID_FIRST_LEAF", CPUID.XEN_CPUID_FIRST_LEAF],
  ["XEN_CPUID_SIGNATURE_EBX", CPUID.XEN_CPUID_SIGNATURE_EBX],
  ["XEN_CPUID_SIGNATURE_ECX", CPUID.XEN_CPUID_SIGNATURE_ECX],
  ["XEN_CPUID_SIGNATURE_EDX", CPUID.XEN_CPUID_SIGNATURE_EDX],
  ["XEN_HVM_START_MAGIC_VALUE", HSI.XEN_HVM_START_MAGIC_VALUE],
  ["XEN_HVM_MEMMAP_TYPE_RAM", HSI.XEN_HVM_MEMMAP_TYPE_RAM],
  [off("hvm_start_info", "magic"), HSI.HVM_START_INFO_MAGIC],
  [off("hvm_start_info", "version"), HSI.HVM_START_INFO_VERSION],
  [off("hvm_start_info", "flags"), HSI.HVM_START_INFO_FLAGS],
  [off("hvm_start_info", "cmdline_paddr"), HSI.HVM_START_INFO_CMDLINE_PADDR],
  [off("hvm_start_info", "memmap_paddr"), HSI.HVM_START_INFO_MEMMAP_PADDR],
  [off("hvm_start_info", "memmap_entries"), HSI.HVM_START_INFO_MEMMAP_ENTRIES],
  ["sizeof(struct hvm_start_info)", HSI.HVM_START_INFO_SIZE],
  [off("hvm_memmap_table_entry", "addr"), HSI.HVM_MEMMAP_ENTRY_ADDR],
  [off("hvm_memmap_table_entry", "size"), HSI.HVM_MEMMAP_ENTRY_SIZE],
  [off("hvm_memmap_table_entry", "type"), HSI.HVM_MEMMAP_ENTRY_TYPE],
  ["sizeof(struct hvm_memmap_table_entry)", HSI.HVM_MEMMAP_ENTRY_BYTES],
];

test("native abi: runtime/native/xen_abi.h agrees with runtime/abi (and so with Xen's headers)", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-native-abi-"));
  try {
    const c = [
      "#include <stdio.h>",
      '#include "xen_abi.h"',
      "int main(void) {",
      ...PAIRS.map(([expr]) => `  printf("%lld\\n", (long long)(${expr}));`),
      "  return 0;",
      "}",
    ].join("\n");
    fs.writeFileSync(path.join(dir, "native.c"), c);
    execFileSync("gcc", ["-m64", "-Wall", "-I", NATIVE, "-o", path.join(dir, "native"), path.join(dir, "native.c")], { stdio: "pipe" });
    const values = execFileSync(path.join(dir, "native"), { encoding: "utf8" }).trim().split("\n").map(Number);
    const wrong = PAIRS.map(([expr, want], i) => ({ expr, want, got: values[i] })).filter((p) => p.got !== p.want);
    t.deepEqual(wrong, [], `all ${PAIRS.length} values agree`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  t.end();
});
