// The golden table for tests/golden/abi-golden.test.ts: each numeric
// constant in runtime/abi/*.ts, keyed by its name, maps to the C expression
// whose value it must equal, evaluated by gcc (x86_64) against Xen's public
// headers from Debian's libxen-dev (/usr/include/xen/). A new constant in
// runtime/abi/ needs an entry here (the test fails without one); a new Xen
// header needs a line in HEADERS.

export const HEADERS = [
  "xen/xen.h", // __HYPERVISOR_*, CONSOLEIO_*, SIF_*, struct start_info
  "xen/sched.h", // SCHEDOP_*, SHUTDOWN_*
  "xen/event_channel.h", // EVTCHNOP_*
  "xen/io/console.h", // struct xencons_interface
  "xen/errno.h", // enum xen_errno: XEN_E*
];

const si = (field: string) => `offsetof(struct start_info, ${field})`;
const cons = (field: string) => `offsetof(struct xencons_interface, ${field})`;

export const GOLDEN: Record<string, string> = {
  // xen.ts
  HYPERVISOR_set_trap_table: "__HYPERVISOR_set_trap_table",
  HYPERVISOR_mmu_update: "__HYPERVISOR_mmu_update",
  HYPERVISOR_set_callbacks: "__HYPERVISOR_set_callbacks",
  HYPERVISOR_fpu_taskswitch: "__HYPERVISOR_fpu_taskswitch",
  HYPERVISOR_memory_op: "__HYPERVISOR_memory_op",
  HYPERVISOR_update_va_mapping: "__HYPERVISOR_update_va_mapping",
  HYPERVISOR_xen_version: "__HYPERVISOR_xen_version",
  HYPERVISOR_console_io: "__HYPERVISOR_console_io",
  HYPERVISOR_grant_table_op: "__HYPERVISOR_grant_table_op",
  HYPERVISOR_vcpu_op: "__HYPERVISOR_vcpu_op",
  HYPERVISOR_sched_op: "__HYPERVISOR_sched_op",
  HYPERVISOR_event_channel_op: "__HYPERVISOR_event_channel_op",
  CONSOLEIO_write: "CONSOLEIO_write",
  CONSOLEIO_read: "CONSOLEIO_read",
  SCHEDOP_yield: "SCHEDOP_yield",
  SCHEDOP_block: "SCHEDOP_block",
  SCHEDOP_shutdown: "SCHEDOP_shutdown",
  SCHEDOP_poll: "SCHEDOP_poll",
  SHUTDOWN_poweroff: "SHUTDOWN_poweroff",
  SHUTDOWN_reboot: "SHUTDOWN_reboot",
  SHUTDOWN_suspend: "SHUTDOWN_suspend",
  SHUTDOWN_crash: "SHUTDOWN_crash",
  SHUTDOWN_watchdog: "SHUTDOWN_watchdog",
  EVTCHNOP_send: "EVTCHNOP_send",
  SIF_PRIVILEGED: "SIF_PRIVILEGED",
  SIF_INITDOMAIN: "SIF_INITDOMAIN",
  // Ours are the positive values; hypercalls return their negation.
  XEN_EPERM: "XEN_EPERM",
  XEN_ENOENT: "XEN_ENOENT",
  XEN_EINVAL: "XEN_EINVAL",
  XEN_ENOSYS: "XEN_ENOSYS",

  // start_info.ts
  START_INFO_MAGIC: si("magic"),
  START_INFO_MAGIC_LEN: "sizeof(((struct start_info*)0)->magic)",
  START_INFO_NR_PAGES: si("nr_pages"),
  START_INFO_SHARED_INFO: si("shared_info"),
  START_INFO_FLAGS: si("flags"),
  START_INFO_STORE_MFN: si("store_mfn"),
  START_INFO_STORE_EVTCHN: si("store_evtchn"),
  START_INFO_CONSOLE_MFN: si("console.domU.mfn"),
  START_INFO_CONSOLE_EVTCHN: si("console.domU.evtchn"),
  START_INFO_PT_BASE: si("pt_base"),
  START_INFO_NR_PT_FRAMES: si("nr_pt_frames"),
  START_INFO_MFN_LIST: si("mfn_list"),
  START_INFO_MOD_START: si("mod_start"),
  START_INFO_MOD_LEN: si("mod_len"),
  START_INFO_CMD_LINE: si("cmd_line"),
  MAX_GUEST_CMDLINE: "MAX_GUEST_CMDLINE",
  START_INFO_FIRST_P2M_PFN: si("first_p2m_pfn"),
  START_INFO_NR_P2M_FRAMES: si("nr_p2m_frames"),
  START_INFO_SIZE: "sizeof(struct start_info)",

  // console.ts
  XENCONS_IN: cons("in"),
  XENCONS_IN_SIZE: "sizeof(((struct xencons_interface*)0)->in)",
  XENCONS_OUT: cons("out"),
  XENCONS_OUT_SIZE: "sizeof(((struct xencons_interface*)0)->out)",
  XENCONS_IN_CONS: cons("in_cons"),
  XENCONS_IN_PROD: cons("in_prod"),
  XENCONS_OUT_CONS: cons("out_cons"),
  XENCONS_OUT_PROD: cons("out_prod"),
  XENCONS_SIZE: "sizeof(struct xencons_interface)",
};

// Exports that are not C values, with the value each must have and why.
export const NOT_IN_HEADERS: Record<string, { value: string | number; why: string }> = {
  START_INFO_MAGIC_PREFIX: {
    value: "xen-3.0-x86_64",
    why:
      "no public header defines it (xen.h only says magic is \"xen-<version>-<platform>\"); " +
      "it is the guest_type libxenguest writes for every 64-bit PV guest (tools/libs/guest/xg_dom_x86.c, xc_dom_64)",
  },
};
