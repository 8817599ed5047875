// Typed wrappers for the hypercalls the runtime core uses. Argument structs
// live in a small static scratch area: there is one vCPU and no re-entrancy
// (events are polled), so one buffer is enough.
import { hypercall } from "./host";
import {
  HYPERVISOR_console_io, HYPERVISOR_sched_op,
  CONSOLEIO_write, SCHEDOP_yield, SCHEDOP_shutdown,
} from "./abi/xen";

const scratch = memory.data(64, 16);

export function consoleIoWrite(ptr: usize, len: i32): i64 {
  return hypercall(HYPERVISOR_console_io, CONSOLEIO_write, len, <i64>ptr, 0, 0);
}

export function schedYield(): void {
  hypercall(HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0, 0, 0);
}

// struct sched_shutdown { unsigned int reason; } (sched.h)
export function schedShutdown(reason: u32): i64 {
  store<u32>(scratch, reason);
  return hypercall(HYPERVISOR_sched_op, SCHEDOP_shutdown, <i64>scratch, 0, 0, 0);
}

