// Event channels, 2-level ABI (xen/include/public/event_channel.h, xen.h
// shared_info.evtchn_pending/evtchn_mask). Upcalls stay masked: the event
// loop (loop.ts) finds pending ports by scanning shared_info and calls the
// handler registered for each port; it blocks with SCHEDOP_poll on the
// bound ports, so no interrupt ever re-enters compiled code. A port whose
// handler is running (it blocked, and the loop runs nested) is neither
// dispatched nor polled until the handler returns (handler.ts).
import { hypercall, sharedInfoAddress, atomicAnd64 } from "./host";
import { toXenSystemNs } from "./time";
import { Handler } from "./handler";
import * as E from "./abi/event_channel";
import * as S from "./abi/shared_info";
import {
  HYPERVISOR_event_channel_op, HYPERVISOR_sched_op, SCHEDOP_poll,
  SCHED_POLL_PORTS, SCHED_POLL_NR_PORTS, SCHED_POLL_TIMEOUT, SCHED_POLL_SIZE,
} from "./abi/xen";

// Called by the event loop for every event on a port it is registered for.
// (AssemblyScript has no closures: handlers are objects.)
export abstract class EventHandler extends Handler {
  abstract onEvent(port: u32): void;
}

// Ports we poll on; enough for several devices with split channels.
const MAX_BOUND = 128;
const boundPorts = memory.data(MAX_BOUND * 4, 8);
const pollPorts = memory.data(MAX_BOUND * 4, 8);   // the ones SCHEDOP_poll waits on
const boundHandlers = new Array<EventHandler | null>(MAX_BOUND);
const boundKeepAlive = new StaticArray<bool>(MAX_BOUND);
let nrBound = 0;
let highestPort: u32 = 0;

const arg = memory.data(32, 8);

function pendingWords(): usize { return sharedInfoAddress() + S.SHARED_INFO_EVTCHN_PENDING; }
function maskWords(): usize { return sharedInfoAddress() + S.SHARED_INFO_EVTCHN_MASK; }

// Result of the binding calls: a port, or a negative Xen errno.
function evtchnOp(cmd: i32): i64 {
  return hypercall(HYPERVISOR_event_channel_op, cmd, <i64>arg, 0, 0, 0);
}

// Allocates a port that domain `remoteDom` may bind to (e.g. a backend).
export function allocUnbound(remoteDom: u16): i64 {
  store<u16>(arg + E.EVTCHN_ALLOC_UNBOUND_DOM, <u16>E.DOMID_SELF);
  store<u16>(arg + E.EVTCHN_ALLOC_UNBOUND_REMOTE_DOM, remoteDom);
  const rc = evtchnOp(E.EVTCHNOP_alloc_unbound);
  return rc < 0 ? rc : <i64>load<u32>(arg + E.EVTCHN_ALLOC_UNBOUND_PORT);
}

// Connects to port `remotePort` that domain `remoteDom` allocated for us.
export function bindInterdomain(remoteDom: u16, remotePort: u32): i64 {
  store<u16>(arg + E.EVTCHN_BIND_INTERDOMAIN_REMOTE_DOM, remoteDom);
  store<u32>(arg + E.EVTCHN_BIND_INTERDOMAIN_REMOTE_PORT, remotePort);
  const rc = evtchnOp(E.EVTCHNOP_bind_interdomain);
  return rc < 0 ? rc : <i64>load<u32>(arg + E.EVTCHN_BIND_INTERDOMAIN_LOCAL_PORT);
}

// Binds a virtual IRQ (e.g. VIRQ_TIMER) of vCPU 0 to a new port.
export function bindVirq(virq: u32): i64 {
  store<u32>(arg + E.EVTCHN_BIND_VIRQ_VIRQ, virq);
  store<u32>(arg + E.EVTCHN_BIND_VIRQ_VCPU, 0);
  const rc = evtchnOp(E.EVTCHNOP_bind_virq);
  return rc < 0 ? rc : <i64>load<u32>(arg + E.EVTCHN_BIND_VIRQ_PORT);
}

function portOp(cmd: i32, port: u32): i64 {
  store<u32>(arg, port);
  return evtchnOp(cmd);
}

export function notify(port: u32): i64 { return portOp(E.EVTCHNOP_send, port); }
export function unmask(port: u32): i64 { return portOp(E.EVTCHNOP_unmask, port); }

// Closes a port and forgets its handler.
export function close(port: u32): i64 {
  unregister(port);
  return portOp(E.EVTCHNOP_close, port);
}

function slotOf(port: u32): i32 {
  for (let i = 0; i < nrBound; i++) if (load<u32>(boundPorts + (<usize>i << 2)) == port) return i;
  return -1;
}

// Registers `handler` for events on `port` and adds the port to the set the
// loop polls. keepAlive: the loop keeps running while such ports exist
// (an app's devices); the runtime's own ports (xenstore) pass false.
export function register(port: u32, handler: EventHandler, keepAlive: bool = true): bool {
  let slot = slotOf(port);
  if (slot < 0) {
    if (nrBound == MAX_BOUND || port >= <u32>E.EVTCHN_2L_NR_CHANNELS) return false;
    slot = nrBound++;
    store<u32>(boundPorts + (<usize>slot << 2), port);
  }
  boundHandlers[slot] = handler;
  boundKeepAlive[slot] = keepAlive;
  if (port > highestPort) highestPort = port;
  // New ports start masked (as Mini-OS and Linux expect, they unmask after
  // binding); a masked port would stay pending and never be dispatched.
  unmask(port);
  return true;
}

export function unregister(port: u32): void {
  const slot = slotOf(port);
  if (slot < 0) return;
  const last = --nrBound;
  store<u32>(boundPorts + (<usize>slot << 2), load<u32>(boundPorts + (<usize>last << 2)));
  boundHandlers[slot] = boundHandlers[last];
  boundKeepAlive[slot] = boundKeepAlive[last];
  boundHandlers[last] = null;
}

// After a resume in a new domain: every port of the old domain is gone
// (its owners bind new ones), so every registration is forgotten without
// closing anything (the numbers may already name the new domain's ports).
export function forgetAllPorts(): void {
  for (let i = 0; i < nrBound; i++) boundHandlers[i] = null;
  nrBound = 0;
  highestPort = 0;
}

// True while a port registered with keepAlive exists.
export function hasKeepAlivePorts(): bool {
  for (let i = 0; i < nrBound; i++) if (boundKeepAlive[i]) return true;
  return false;
}

// Takes every pending, unmasked event on a registered port, clearing its
// bit before calling the handler (an event that arrives during the handler
// is then seen on the next pass, not lost). Returns how many were handled.
export function dispatchPending(): i32 {
  const si = sharedInfoAddress();
  store<u8>(si + S.VCPU_INFO_UPCALL_PENDING, 0);
  atomicAnd64(si + S.VCPU_INFO_PENDING_SEL, 0);
  let handled = 0;
  const words = (highestPort >> 6) + 1;
  for (let w: u32 = 0; w < words; w++) {
    const at = pendingWords() + (<usize>w << 3);
    let bits = load<u64>(at) & ~load<u64>(maskWords() + (<usize>w << 3));
    while (bits != 0) {
      const bit = <u32>ctz(bits);
      bits &= bits - 1;
      const port = (w << 6) | bit;
      const slot = slotOf(port);
      if (slot < 0) continue; // not ours to handle (or not yet registered): leave it pending
      const handler = boundHandlers[slot];
      if (handler !== null && handler.running) continue; // delivered once its running call returns
      atomicAnd64(at, ~(<u64>1 << bit));
      if (handler !== null) {
        handler.running = true;
        handler.onEvent(port);
        handler.running = false;
      }
      handled++;
    }
  }
  return handled;
}

// Whether the loop may dispatch `slot` now (its handler is not running).
function ready(slot: i32): bool {
  const h = boundHandlers[slot];
  return h === null || !h.running;
}

// True if a registered port whose handler could run has an event waiting.
export function anyPending(): bool {
  for (let i = 0; i < nrBound; i++) {
    if (!ready(i)) continue;
    const port = load<u32>(boundPorts + (<usize>i << 2));
    const word = load<u64>(pendingWords() + (<usize>(port >> 6) << 3));
    if ((word >> (port & 63)) & 1) return true;
  }
  return false;
}

// Blocks until an event is pending on a registered port or the system time
// (time.ts) reaches `deadlineNs` (0: no deadline). SCHEDOP_poll returns at
// once if a polled port is already pending, so an event that arrives after
// the caller's last check is not lost.
const pollArg = memory.data(SCHED_POLL_SIZE, 8);
export function block(deadlineNs: u64): void {
  if (anyPending()) return;
  let n: u32 = 0;
  for (let i = 0; i < nrBound; i++) {
    if (!ready(i)) continue;
    store<u32>(pollPorts + (<usize>n << 2), load<u32>(boundPorts + (<usize>i << 2)));
    n++;
  }
  store<u64>(pollArg + SCHED_POLL_PORTS, <u64>pollPorts);
  store<u32>(pollArg + SCHED_POLL_NR_PORTS, n);
  store<u64>(pollArg + SCHED_POLL_TIMEOUT, deadlineNs == 0 ? 0 : toXenSystemNs(deadlineNs));
  hypercall(HYPERVISOR_sched_op, SCHEDOP_poll, <i64>pollArg, 0, 0, 0);
}
