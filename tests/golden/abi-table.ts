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
  "xen/grant_table.h", // GNTTABOP_*, GTF_*, GNTST_*, grant_entry_v1
  "xen/io/xs_wire.h", // XS_*, struct xsd_sockmsg, struct xenstore_domain_interface
  "xen/io/xenbus.h", // enum xenbus_state
  "xen/vcpu.h", // VCPUOP_*, struct vcpu_set_singleshot_timer
  "xen/io/netif.h", // netif_tx/rx request/response, NETTXF_*, NETRXF_*, NETIF_RSP_* (includes io/ring.h)
];

const si = (field: string) => `offsetof(struct start_info, ${field})`;
const cons = (field: string) => `offsetof(struct xencons_interface, ${field})`;
const off = (struct: string, field: string) => `offsetof(struct ${struct}, ${field})`;

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

  // event_channel.ts
  EVTCHNOP_bind_interdomain: "EVTCHNOP_bind_interdomain",
  EVTCHNOP_bind_virq: "EVTCHNOP_bind_virq",
  EVTCHNOP_close: "EVTCHNOP_close",
  // EVTCHNOP_send: above (also exported by xen.ts)
  EVTCHNOP_status: "EVTCHNOP_status",
  EVTCHNOP_alloc_unbound: "EVTCHNOP_alloc_unbound",
  EVTCHNOP_unmask: "EVTCHNOP_unmask",
  EVTCHN_ALLOC_UNBOUND_DOM: off("evtchn_alloc_unbound", "dom"),
  EVTCHN_ALLOC_UNBOUND_REMOTE_DOM: off("evtchn_alloc_unbound", "remote_dom"),
  EVTCHN_ALLOC_UNBOUND_PORT: off("evtchn_alloc_unbound", "port"),
  EVTCHN_ALLOC_UNBOUND_SIZE: "sizeof(struct evtchn_alloc_unbound)",
  EVTCHN_BIND_INTERDOMAIN_REMOTE_DOM: off("evtchn_bind_interdomain", "remote_dom"),
  EVTCHN_BIND_INTERDOMAIN_REMOTE_PORT: off("evtchn_bind_interdomain", "remote_port"),
  EVTCHN_BIND_INTERDOMAIN_LOCAL_PORT: off("evtchn_bind_interdomain", "local_port"),
  EVTCHN_BIND_INTERDOMAIN_SIZE: "sizeof(struct evtchn_bind_interdomain)",
  EVTCHN_BIND_VIRQ_VIRQ: off("evtchn_bind_virq", "virq"),
  EVTCHN_BIND_VIRQ_VCPU: off("evtchn_bind_virq", "vcpu"),
  EVTCHN_BIND_VIRQ_PORT: off("evtchn_bind_virq", "port"),
  EVTCHN_BIND_VIRQ_SIZE: "sizeof(struct evtchn_bind_virq)",
  // One size for the three one-port structs; -1 if they ever differ.
  EVTCHN_PORT_ARG_SIZE:
    "(sizeof(struct evtchn_close) == sizeof(struct evtchn_send) && sizeof(struct evtchn_send) == sizeof(struct evtchn_unmask) ? (long long)sizeof(struct evtchn_send) : -1)",
  VIRQ_TIMER: "VIRQ_TIMER",
  EVTCHN_2L_NR_CHANNELS: "EVTCHN_2L_NR_CHANNELS",
  DOMID_SELF: "DOMID_SELF",

  // grant_table.ts
  GNTTABOP_map_grant_ref: "GNTTABOP_map_grant_ref",
  GNTTABOP_unmap_grant_ref: "GNTTABOP_unmap_grant_ref",
  GNTTABOP_setup_table: "GNTTABOP_setup_table",
  GNTTABOP_copy: "GNTTABOP_copy",
  GNTTABOP_query_size: "GNTTABOP_query_size",
  GNTTAB_SETUP_TABLE_DOM: off("gnttab_setup_table", "dom"),
  GNTTAB_SETUP_TABLE_NR_FRAMES: off("gnttab_setup_table", "nr_frames"),
  GNTTAB_SETUP_TABLE_STATUS: off("gnttab_setup_table", "status"),
  GNTTAB_SETUP_TABLE_FRAME_LIST: off("gnttab_setup_table", "frame_list"),
  GNTTAB_SETUP_TABLE_SIZE: "sizeof(struct gnttab_setup_table)",
  GNTTAB_QUERY_SIZE_DOM: off("gnttab_query_size", "dom"),
  GNTTAB_QUERY_SIZE_NR_FRAMES: off("gnttab_query_size", "nr_frames"),
  GNTTAB_QUERY_SIZE_MAX_NR_FRAMES: off("gnttab_query_size", "max_nr_frames"),
  GNTTAB_QUERY_SIZE_STATUS: off("gnttab_query_size", "status"),
  GNTTAB_QUERY_SIZE_SIZE: "sizeof(struct gnttab_query_size)",
  GRANT_ENTRY_V1_FLAGS: off("grant_entry_v1", "flags"),
  GRANT_ENTRY_V1_DOMID: off("grant_entry_v1", "domid"),
  GRANT_ENTRY_V1_FRAME: off("grant_entry_v1", "frame"),
  GRANT_ENTRY_V1_SIZE: "sizeof(struct grant_entry_v1)",
  GRANT_ENTRIES_PER_PAGE: "4096 / sizeof(struct grant_entry_v1)", // x86 page: 4 KiB
  GTF_invalid: "GTF_invalid",
  GTF_permit_access: "GTF_permit_access",
  GTF_type_mask: "GTF_type_mask",
  GTF_readonly: "GTF_readonly",
  GTF_reading: "GTF_reading",
  GTF_writing: "GTF_writing",
  GNTTAB_NR_RESERVED_ENTRIES: "GNTTAB_NR_RESERVED_ENTRIES",
  GNTST_okay: "GNTST_okay",
  GNTST_general_error: "GNTST_general_error",
  GNTST_bad_domain: "GNTST_bad_domain",
  GNTST_bad_gntref: "GNTST_bad_gntref",
  GNTST_bad_handle: "GNTST_bad_handle",
  GNTST_bad_virt_addr: "GNTST_bad_virt_addr",
  GNTST_permission_denied: "GNTST_permission_denied",

  // shared_info.ts
  VCPU_INFO_SIZE: "sizeof(struct vcpu_info)",
  VCPU_INFO_UPCALL_PENDING: off("vcpu_info", "evtchn_upcall_pending"),
  VCPU_INFO_UPCALL_MASK: off("vcpu_info", "evtchn_upcall_mask"),
  VCPU_INFO_PENDING_SEL: off("vcpu_info", "evtchn_pending_sel"),
  VCPU_INFO_CR2: off("vcpu_info", "arch.cr2"),
  VCPU_INFO_TIME: off("vcpu_info", "time"),
  VCPU_TIME_VERSION: off("vcpu_time_info", "version"),
  VCPU_TIME_TSC_TIMESTAMP: off("vcpu_time_info", "tsc_timestamp"),
  VCPU_TIME_SYSTEM_TIME: off("vcpu_time_info", "system_time"),
  VCPU_TIME_TSC_TO_SYSTEM_MUL: off("vcpu_time_info", "tsc_to_system_mul"),
  VCPU_TIME_TSC_SHIFT: off("vcpu_time_info", "tsc_shift"),
  VCPU_TIME_FLAGS: off("vcpu_time_info", "flags"),
  VCPU_TIME_SIZE: "sizeof(struct vcpu_time_info)",
  SHARED_INFO_EVTCHN_PENDING: off("shared_info", "evtchn_pending"),
  SHARED_INFO_EVTCHN_MASK: off("shared_info", "evtchn_mask"),
  SHARED_INFO_WC_VERSION: off("shared_info", "wc_version"),
  SHARED_INFO_WC_SEC: off("shared_info", "wc_sec"),
  SHARED_INFO_WC_NSEC: off("shared_info", "wc_nsec"),
  SHARED_INFO_WC_SEC_HI: off("shared_info", "wc_sec_hi"),

  // xs_wire.ts
  XS_CONTROL: "XS_CONTROL",
  XS_DIRECTORY: "XS_DIRECTORY",
  XS_READ: "XS_READ",
  XS_GET_PERMS: "XS_GET_PERMS",
  XS_WATCH: "XS_WATCH",
  XS_UNWATCH: "XS_UNWATCH",
  XS_TRANSACTION_START: "XS_TRANSACTION_START",
  XS_TRANSACTION_END: "XS_TRANSACTION_END",
  XS_INTRODUCE: "XS_INTRODUCE",
  XS_RELEASE: "XS_RELEASE",
  XS_GET_DOMAIN_PATH: "XS_GET_DOMAIN_PATH",
  XS_WRITE: "XS_WRITE",
  XS_MKDIR: "XS_MKDIR",
  XS_RM: "XS_RM",
  XS_SET_PERMS: "XS_SET_PERMS",
  XS_WATCH_EVENT: "XS_WATCH_EVENT",
  XS_ERROR: "XS_ERROR",
  XS_IS_DOMAIN_INTRODUCED: "XS_IS_DOMAIN_INTRODUCED",
  XS_RESUME: "XS_RESUME",
  XS_SET_TARGET: "XS_SET_TARGET",
  XS_RESET_WATCHES: "XS_RESET_WATCHES",
  XS_DIRECTORY_PART: "XS_DIRECTORY_PART",
  XS_INVALID: "XS_INVALID",
  XSD_SOCKMSG_TYPE: off("xsd_sockmsg", "type"),
  XSD_SOCKMSG_REQ_ID: off("xsd_sockmsg", "req_id"),
  XSD_SOCKMSG_TX_ID: off("xsd_sockmsg", "tx_id"),
  XSD_SOCKMSG_LEN: off("xsd_sockmsg", "len"),
  XSD_SOCKMSG_SIZE: "sizeof(struct xsd_sockmsg)",
  XENSTORE_PAYLOAD_MAX: "XENSTORE_PAYLOAD_MAX",
  XENSTORE_ABS_PATH_MAX: "XENSTORE_ABS_PATH_MAX",
  XENSTORE_REL_PATH_MAX: "XENSTORE_REL_PATH_MAX",
  XENSTORE_RING_SIZE: "XENSTORE_RING_SIZE",
  XS_RING_REQ: off("xenstore_domain_interface", "req"),
  XS_RING_RSP: off("xenstore_domain_interface", "rsp"),
  XS_RING_REQ_CONS: off("xenstore_domain_interface", "req_cons"),
  XS_RING_REQ_PROD: off("xenstore_domain_interface", "req_prod"),
  XS_RING_RSP_CONS: off("xenstore_domain_interface", "rsp_cons"),
  XS_RING_RSP_PROD: off("xenstore_domain_interface", "rsp_prod"),
  XS_RING_SERVER_FEATURES: off("xenstore_domain_interface", "server_features"),
  XS_RING_CONNECTION: off("xenstore_domain_interface", "connection"),
  XENSTORE_CONNECTED: "XENSTORE_CONNECTED",
  XENSTORE_RECONNECT: "XENSTORE_RECONNECT",
  // moved from sim/: errno values, sched_poll, NR_VIRQS, vcpu.h, reserved grant entries
  XEN_ESRCH: "XEN_ESRCH", XEN_EFAULT: "XEN_EFAULT", XEN_EEXIST: "XEN_EEXIST", XEN_ENOSPC: "XEN_ENOSPC", XEN_ETIME: "XEN_ETIME",
  SCHED_POLL_PORTS: off("sched_poll", "ports"),
  SCHED_POLL_NR_PORTS: off("sched_poll", "nr_ports"),
  SCHED_POLL_TIMEOUT: off("sched_poll", "timeout"),
  SCHED_POLL_SIZE: "sizeof(struct sched_poll)",
  NR_VIRQS: "NR_VIRQS",
  XEN_LEGACY_MAX_VCPUS: "XEN_LEGACY_MAX_VCPUS",
  GNTST_bad_page: "GNTST_bad_page",
  GNTST_bad_copy_arg: "GNTST_bad_copy_arg",
  GNTTAB_RESERVED_CONSOLE: "GNTTAB_RESERVED_CONSOLE",
  GNTTAB_RESERVED_XENSTORE: "GNTTAB_RESERVED_XENSTORE",
  VCPUOP_set_singleshot_timer: "VCPUOP_set_singleshot_timer",
  VCPUOP_stop_singleshot_timer: "VCPUOP_stop_singleshot_timer",
  VCPU_SSHOTTMR_future: "VCPU_SSHOTTMR_future",
  VCPU_SET_SINGLESHOT_TIMER_TIMEOUT_ABS_NS: off("vcpu_set_singleshot_timer", "timeout_abs_ns"),
  VCPU_SET_SINGLESHOT_TIMER_FLAGS: off("vcpu_set_singleshot_timer", "flags"),
  VCPU_SET_SINGLESHOT_TIMER_SIZE: "sizeof(struct vcpu_set_singleshot_timer)",
  // ring.ts (any DEFINE_RING_TYPES instance has the same header)
  SRING_REQ_PROD: off("netif_tx_sring", "req_prod"),
  SRING_REQ_EVENT: off("netif_tx_sring", "req_event"),
  SRING_RSP_PROD: off("netif_tx_sring", "rsp_prod"),
  SRING_RSP_EVENT: off("netif_tx_sring", "rsp_event"),
  SRING_RING: off("netif_tx_sring", "ring"),
  // netif.ts
  NETIF_TX_REQ_GREF: off("netif_tx_request", "gref"),
  NETIF_TX_REQ_OFFSET: off("netif_tx_request", "offset"),
  NETIF_TX_REQ_FLAGS: off("netif_tx_request", "flags"),
  NETIF_TX_REQ_ID: off("netif_tx_request", "id"),
  NETIF_TX_REQ_SIZE: off("netif_tx_request", "size"),
  NETIF_TX_REQUEST_SIZE: "sizeof(struct netif_tx_request)",
  NETIF_TX_RSP_ID: off("netif_tx_response", "id"),
  NETIF_TX_RSP_STATUS: off("netif_tx_response", "status"),
  NETIF_TX_RESPONSE_SIZE: "sizeof(struct netif_tx_response)",
  NETIF_RX_REQ_ID: off("netif_rx_request", "id"),
  NETIF_RX_REQ_GREF: off("netif_rx_request", "gref"),
  NETIF_RX_REQUEST_SIZE: "sizeof(struct netif_rx_request)",
  NETIF_RX_RSP_ID: off("netif_rx_response", "id"),
  NETIF_RX_RSP_OFFSET: off("netif_rx_response", "offset"),
  NETIF_RX_RSP_FLAGS: off("netif_rx_response", "flags"),
  NETIF_RX_RSP_STATUS: off("netif_rx_response", "status"),
  NETIF_RX_RESPONSE_SIZE: "sizeof(struct netif_rx_response)",
  NETIF_EXTRA_TYPE: off("netif_extra_info", "type"),
  NETIF_EXTRA_FLAGS: off("netif_extra_info", "flags"),
  NETIF_EXTRA_INFO_SIZE: "sizeof(struct netif_extra_info)",
  XEN_NETIF_EXTRA_TYPE_NONE: "XEN_NETIF_EXTRA_TYPE_NONE",
  XEN_NETIF_EXTRA_TYPE_GSO: "XEN_NETIF_EXTRA_TYPE_GSO",
  XEN_NETIF_EXTRA_FLAG_MORE: "XEN_NETIF_EXTRA_FLAG_MORE",
  ...Object.fromEntries(["csum_blank", "data_validated", "more_data", "extra_info"].map((f) => [`NETTXF_${f}`, `NETTXF_${f}`])),
  ...Object.fromEntries(["data_validated", "csum_blank", "more_data", "extra_info", "gso_prefix"].map((f) => [`NETRXF_${f}`, `NETRXF_${f}`])),
  NETIF_RSP_DROPPED: "NETIF_RSP_DROPPED",
  NETIF_RSP_ERROR: "NETIF_RSP_ERROR",
  NETIF_RSP_OKAY: "NETIF_RSP_OKAY",
  NETIF_RSP_NULL: "NETIF_RSP_NULL",
  NET_TX_RING_SIZE: "__CONST_RING_SIZE(netif_tx, 4096)",
  NET_RX_RING_SIZE: "__CONST_RING_SIZE(netif_rx, 4096)",
  // xenbus.ts
  ...Object.fromEntries(
    ["Unknown", "Initialising", "InitWait", "Initialised", "Connected", "Closing", "Closed", "Reconfiguring", "Reconfigured"]
      .map((s) => [`XenbusState${s}`, `XenbusState${s}`]),
  ),
};

// Exports that are not C values, with the value each must have and why.
export const NOT_IN_HEADERS: Record<string, { value: string | number; why: string }> = {
  START_INFO_MAGIC_PREFIX: {
    value: "xen-3.0-x86_64",
    why:
      "no public header defines it (xen.h only says magic is \"xen-<version>-<platform>\"); " +
      "it is the guest_type libxenguest writes for every 64-bit PV guest (tools/libs/guest/xg_dom_x86.c, xc_dom_64)",
  },
  // xs_wire.h has no names for the permission letters; they are specified in
  // Xen's docs/misc/xenstore.txt ("<perm-as-string>": n, r, w or b + domid).
  XS_PERM_NONE: { value: "n", why: "xenstore.txt, not a header" },
  XS_PERM_READ: { value: "r", why: "xenstore.txt, not a header" },
  XS_PERM_WRITE: { value: "w", why: "xenstore.txt, not a header" },
  XS_PERM_BOTH: { value: "b", why: "xenstore.txt, not a header" },
};
