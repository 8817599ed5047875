// Typed wrappers for the hypercalls the runtime core uses. Argument structs
// live in a small static scratch area: there is one vCPU and no re-entrancy
// (events are polled), so one buffer is enough.
import { hypercall } from "./host";
import {
  HYPERVISOR_console_io, HYPERVISOR_sched_op, HYPERVISOR_hvm_op, HYPERVISOR_memory_op,
  CONSOLEIO_write, SCHEDOP_yield, SCHEDOP_shutdown,
} from "./abi/xen";
import * as HVM from "./abi/hvm";
import * as MEM from "./abi/memory";
import { DOMID_SELF } from "./abi/event_channel";

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


// HVMOP_get_param for this domain (PVH): the parameter's value, or a
// negative Xen errno.
export function hvmGetParam(index: u32): i64 {
  memory.fill(scratch, 0, HVM.XEN_HVM_PARAM_SIZE);
  store<u16>(scratch + HVM.XEN_HVM_PARAM_DOMID, <u16>DOMID_SELF);
  store<u32>(scratch + HVM.XEN_HVM_PARAM_INDEX, index);
  const rc = hypercall(HYPERVISOR_hvm_op, HVM.HVMOP_get_param, <i64>scratch, 0, 0, 0);
  return rc < 0 ? rc : load<i64>(scratch + HVM.XEN_HVM_PARAM_VALUE);
}

// XENMEM_add_to_physmap for this domain (PVH): puts frame `idx` of `space`
// (XENMAPSPACE_*) at guest frame `gpfn`. 0 or a negative Xen errno.
export function addToPhysmap(space: u32, idx: u64, gpfn: u64): i64 {
  memory.fill(scratch, 0, MEM.XEN_ADD_TO_PHYSMAP_SIZE);
  store<u16>(scratch + MEM.XEN_ADD_TO_PHYSMAP_DOMID, <u16>DOMID_SELF);
  store<u32>(scratch + MEM.XEN_ADD_TO_PHYSMAP_SPACE, space);
  store<u64>(scratch + MEM.XEN_ADD_TO_PHYSMAP_IDX, idx);
  store<u64>(scratch + MEM.XEN_ADD_TO_PHYSMAP_GPFN, gpfn);
  return hypercall(HYPERVISOR_memory_op, MEM.XENMEM_add_to_physmap, <i64>scratch, 0, 0, 0);
}
