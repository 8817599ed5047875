// Hypercall numbers and the sub-operations tsxen uses.
// Follows xen/include/public/xen.h (__HYPERVISOR_*), sched.h (SCHEDOP_*,
// SHUTDOWN_*) and xen.h (CONSOLEIO_*, SIF_*); event-channel operations are
// in event_channel.ts.
// Plain numeric constants only: this file is shared, unchanged, by the
// AssemblyScript runtime and by the Node tooling and sim (see tests/golden).

export const HYPERVISOR_set_trap_table = 0;
export const HYPERVISOR_mmu_update = 1;
export const HYPERVISOR_set_callbacks = 4;
export const HYPERVISOR_fpu_taskswitch = 5;
export const HYPERVISOR_memory_op = 12;
export const HYPERVISOR_update_va_mapping = 14;
export const HYPERVISOR_xen_version = 17;
export const HYPERVISOR_console_io = 18;
export const HYPERVISOR_grant_table_op = 20;
export const HYPERVISOR_vcpu_op = 24;
export const HYPERVISOR_sched_op = 29;
export const HYPERVISOR_event_channel_op = 32;
export const HYPERVISOR_hvm_op = 34;

export const CONSOLEIO_write = 0;
export const CONSOLEIO_read = 1;

export const SCHEDOP_yield = 0;
export const SCHEDOP_block = 1;
export const SCHEDOP_shutdown = 2;
export const SCHEDOP_poll = 3;

export const SHUTDOWN_poweroff = 0;
export const SHUTDOWN_reboot = 1;
export const SHUTDOWN_suspend = 2;
export const SHUTDOWN_crash = 3;
export const SHUTDOWN_watchdog = 4;


// start_info.flags
export const SIF_PRIVILEGED = 1;
export const SIF_INITDOMAIN = 2;

// Negative errno values returned by hypercalls (xen/include/public/errno.h)
export const XEN_EPERM = 1;
export const XEN_ENOENT = 2;
export const XEN_EINVAL = 22;
export const XEN_ENOSYS = 38;
export const XEN_ESRCH = 3;
export const XEN_EFAULT = 14;
export const XEN_EEXIST = 17;
export const XEN_ENOSPC = 28;
export const XEN_ETIME = 62;

// struct sched_poll { XEN_GUEST_HANDLE(evtchn_port_t) ports; unsigned int nr_ports;
//                     uint64_t timeout; }  (sched.h; timeout: absolute system time, 0 = none)
export const SCHED_POLL_PORTS = 0;
export const SCHED_POLL_NR_PORTS = 8;
export const SCHED_POLL_TIMEOUT = 16;
export const SCHED_POLL_SIZE = 24;
