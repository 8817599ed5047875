// The simulated hypervisor: one guest (domid 1), PV or PVH, whose
// hypercalls are decoded from its memory exactly as Xen decodes guest
// memory, and dom0 (domid 0) as a TypeScript peer that backends and tests
// drive. Follows xen/include/public/xen.h (console_io, update_va_mapping),
// sched.h (SCHEDOP_*), event_channel.h, grant_table.h, vcpu.h, memory.h
// (XENMEM_add_to_physmap) and hvm/hvm_op.h (HVMOP_get_param); constants
// come from runtime/abi/. As under Xen, the PV-only hypercalls
// (update_va_mapping) fail for a PVH guest and the translated-guest ones
// (add_to_physmap, hvm_op) fail for a PV guest, so a runtime that takes
// the wrong path for its mode fails a test.
//
// Scheduling model. The guest runs on the one JS thread and is only ever
// interrupted at a hypercall or an rdtsc; upcalls stay masked, so the sim
// never calls into wasm. dom0's work (event callbacks, dom0 timers) goes
// through a run queue, drained after every guest EVTCHNOP_send and whenever
// the guest yields, polls or blocks, never inside another dom0 callback, so
// backends are not re-entered. Time is virtual (clock.ts): when the guest
// blocks, the sim runs dom0's queue, then jumps the clock to the next timer
// or the poll timeout; if nothing at all could wake the guest, the
// hypercall throws GuestBlockedForever instead of hanging the test. With an
// Outside (tsxen sim --forward), a blocked guest also waits for the world
// outside, in real time.
import * as XEN from "../runtime/abi/xen.ts";
import * as E from "../runtime/abi/event_channel.ts";
import * as G from "../runtime/abi/grant_table.ts";
import * as S from "../runtime/abi/shared_info.ts";
import * as V from "../runtime/abi/vcpu.ts";
import * as HVM from "../runtime/abi/hvm.ts";
import * as MEM from "../runtime/abi/memory.ts";
import * as L from "./layout.ts";
import { VirtualClock, writeVcpuTime, writeWallClock, type ClockOptions, type TimerHandle } from "./clock.ts";
import { EventChannels, SharedInfoEvents, check, type EventSink } from "./evtchn.ts";
import { GrantError, GrantTable, type GrantMapping } from "./grant-table.ts";

export const DOM0 = 0;
export const GUEST_DOMID = 1;

const SCHED_POLL_MAX_PORTS = 128; // do_poll's limit
const TIME_SLICE_NS = 1_000_000n;  // credit2's default rate limit is 1 ms

export type ShutdownReason = "poweroff" | "reboot" | "suspend" | "crash" | "watchdog";
const REASONS: ShutdownReason[] = ["poweroff", "reboot", "suspend", "crash", "watchdog"];

// Unwinds the wasm stack when the guest shuts down: SCHEDOP_shutdown does
// not return. `message` is what the sim has to say about a crash it caused.
export class Shutdown {
  constructor(readonly reason: ShutdownReason, readonly message = "") {}
}

// Nothing can ever wake the guest: a test bug or a guest bug, never a hang.
export class GuestBlockedForever extends Error {}

// Bad guest pointer: the hypercall returns -EFAULT, as copy_from_guest fails.
class Fault {}

export type EventCallback = (port: number) => void;

// dom0's pending work, run outside the guest's hypercall logic proper.
class RunQueue {
  private tasks: (() => void)[] = [];
  private draining = false;

  push(task: () => void): void {
    this.tasks.push(task);
  }

  get length(): number {
    return this.tasks.length;
  }

  // Runs tasks (including ones they queue) until none is left. Not
  // re-entrant: a drain requested from inside a task is a no-op.
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let ran = 0; this.tasks.length; ran++) {
        if (ran === 1_000_000) throw new Error("sim: dom0 work keeps re-queuing itself (1,000,000 tasks in one drain)");
        this.tasks.shift()!();
      }
    } finally {
      this.draining = false;
    }
  }
}

// dom0, the privileged peer: what backends (console, xenstored, device
// backends) and tests use. Event-channel errors throw XenError (evtchn.ts),
// grant errors throw GrantError (grant-table.ts) with Xen's GNTST_* status.
export class Dom0 implements EventSink {
  readonly domid = DOM0;
  private readonly handlers = new Map<number, EventCallback>();
  private readonly pending = new Set<number>();

  constructor(private readonly hv: Hypervisor) {}

  allocUnbound(remoteDomid: number): number {
    return check(this.hv.evtchn.allocUnbound(DOM0, remoteDomid), `dom0: alloc_unbound for domain ${remoteDomid}`);
  }

  bindInterdomain(remoteDomid: number, remotePort: number): number {
    return check(this.hv.evtchn.bindInterdomain(DOM0, remoteDomid, remotePort), `dom0: bind_interdomain to ${remoteDomid}:${remotePort}`);
  }

  send(port: number): void {
    check(this.hv.evtchn.send(DOM0, port), `dom0: send on port ${port}`);
  }

  close(port: number): void {
    check(this.hv.evtchn.close(DOM0, port), `dom0: close port ${port}`);
    this.handlers.delete(port);
  }

  // Runs `cb` (from the run queue) each time the peer notifies `port`;
  // events coalesce like Xen's pending bit. null removes the callback.
  onEvent(port: number, cb: EventCallback | null): void {
    if (cb) this.handlers.set(port, cb);
    else this.handlers.delete(port);
    if (cb && this.pending.has(port)) this.hv.runQueue.push(() => this.deliver(port));
  }

  isPending(port: number): boolean {
    return this.pending.has(port);
  }

  // Runs `cb` from the run queue when virtual time reaches now + ns.
  after(ns: number | bigint, cb: () => void): TimerHandle {
    return this.hv.clock.after(BigInt(ns), () => this.hv.runQueue.push(cb));
  }

  mapGrant(domid: number, ref: number, opts: { readonly?: boolean } = {}): GrantMapping {
    return this.grantsOf(domid).map(DOM0, ref, opts.readonly ?? false);
  }

  // GNTTABOP_copy from a granted page.
  copyFromGrant(domid: number, ref: number, offset: number, length: number): Uint8Array {
    return this.grantsOf(domid).copy(DOM0, ref, offset, length, false, (at) => this.hv.bytes(at, length).slice());
  }

  // GNTTABOP_copy to a granted page (needs a writable grant).
  copyToGrant(domid: number, ref: number, offset: number, data: Uint8Array): void {
    this.grantsOf(domid).copy(DOM0, ref, offset, data.length, true, (at) => this.hv.bytes(at, data.length).set(data));
  }

  activeGrantMappings(): number {
    return this.hv.grants.activeMappings();
  }

  // EventSink: the event-channel code marks dom0's ports pending here.
  setPending(port: number): void {
    if (this.pending.has(port)) return;
    this.pending.add(port);
    if (this.handlers.has(port)) this.hv.runQueue.push(() => this.deliver(port));
  }

  clearPending(port: number): void {
    this.pending.delete(port);
  }

  private deliver(port: number): void {
    const cb = this.handlers.get(port);
    if (!cb || !this.pending.delete(port)) return;
    cb(port);
  }

  private grantsOf(domid: number): GrantTable {
    if (domid !== GUEST_DOMID) throw new GrantError(G.GNTST_bad_domain, `no grant table for domain ${domid}`);
    return this.hv.grants;
  }
}

export interface HypervisorOptions {
  memory: () => ArrayBuffer;         // the guest's memory (re-read: memory.grow replaces the buffer)
  nrPages: number;                   // the guest's RAM (start_info.nr_pages)
  mode?: L.BootMode;                 // 'pv' (default) or 'pvh'
  sharedInfo?: number;               // guest address of shared_info (default: layout.ts)
  privileged?: boolean;              // the guest is the initial domain (console_io allowed)
  consoleIo?: (bytes: Uint8Array) => void;
  clock?: ClockOptions;
  wallClockNs?: bigint;              // Unix time at domain start (default: now)
  maxGrantFrames?: number;
  maxBlockNs?: bigint;               // a block without timeout that lasts longer fails (default 1 h virtual)
  outside?: Outside;                 // the world outside the sim (tsxen sim's host ports, real time)
}

// What a blocked guest waits for besides dom0's timers: the world outside
// the sim. `wait(next)` is called when nothing in the sim can run before
// virtual time `next` (null: nothing at all is scheduled); it delivers what
// came from outside (as dom0 work) and returns the virtual time to move to
// (at most `next`), or null to let the sim jump to `next` itself as usual.
export interface Outside {
  wait(next: bigint | null): bigint | null;
}

// A blocked vCPU: `ports` null for SCHEDOP_block (woken by upcalls only),
// else the ports of SCHEDOP_poll.
interface Waiter {
  ports: number[] | null;
  woken: boolean;
}

export class Hypervisor {
  private blockedHooks: (() => void)[] = [];
  readonly clock: VirtualClock;
  readonly evtchn = new EventChannels();
  readonly runQueue = new RunQueue();
  private lastRun = 0n;  // virtual time dom0's queue last ran (rdtsc)
  readonly dom0: Dom0;
  readonly guestEvents: SharedInfoEvents;
  grants: GrantTable;
  readonly sharedInfo: number;
  readonly mode: L.BootMode;
  readonly physmap: L.Physmap;
  // HVM parameters (PVH): what the toolstack sets before the guest runs.
  readonly hvmParams = new Map<number, bigint>();
  private waiting: Waiter | null = null;
  private singleshot: TimerHandle | null = null;
  // How far the guest's system time is behind the clock (newDomain).
  private behindNs = 0n;
  private unixAtZeroNs = 0n;   // Unix time at clock time 0

  constructor(private readonly opts: HypervisorOptions) {
    this.clock = new VirtualClock(opts.clock);
    this.mode = opts.mode ?? "pv";
    this.physmap = L.physmapOf(this.mode);
    this.sharedInfo = opts.sharedInfo ?? L.pageAddress(L.SHARED_INFO_PFN);
    this.dom0 = new Dom0(this);
    this.guestEvents = new SharedInfoEvents(() => this.view(), this.sharedInfo, {
      kick: () => this.kick(),
      portPending: (port) => this.portPending(port),
    });
    this.evtchn.addDomain(DOM0, this.dom0);
    this.evtchn.addDomain(GUEST_DOMID, this.guestEvents);
    this.grants = this.newGrantTable();
  }

  private newGrantTable(): GrantTable {
    return new GrantTable({ view: () => this.view(), frameAddress: (mfn) => this.ramPage(mfn), maxFrames: this.opts.maxGrantFrames });
  }

  view(): DataView {
    return new DataView(this.opts.memory());
  }

  bytes(at: number, len: number): Uint8Array {
    return new Uint8Array(this.opts.memory(), at, len);
  }

  // ---- domain building (xl's domain builder and toolstack) ----

  // A fresh shared_info as libxc writes it: zeroed, every vCPU's upcalls
  // masked; then the wall clock and vCPU 0's pvclock.
  initSharedInfo(): void {
    this.bytes(this.sharedInfo, L.PAGE_SIZE).fill(0);
    const v = this.view();
    for (let i = 0; i < S.XEN_LEGACY_MAX_VCPUS; i++) v.setUint8(this.sharedInfo + i * S.VCPU_INFO_SIZE + S.VCPU_INFO_UPCALL_MASK, 1);
    const unix = this.opts.wallClockNs ?? BigInt(Date.now()) * 1_000_000n;
    this.unixAtZeroNs = unix - this.clock.now();
    writeWallClock(v, this.sharedInfo, this.clock, unix);
    this.updateTime();
  }

  // The guest as restored (xl restore, xl migrate) into a new domain, on a
  // host whose system time is `behindNs` behind this one's (it booted
  // later; the guest's clock must still not go backwards): the guest's
  // event channels are gone (its peers' ends fall back to unbound), its
  // grant table is a new, empty one, shared_info has every port masked and
  // nothing pending (as libxc's restore leaves it) and the new host's
  // time. Its memory is what it was. The toolstack (host.ts) then sets up
  // the console and xenstore channels again.
  newDomain(behindNs: bigint): void {
    for (const port of this.evtchn.openPorts(GUEST_DOMID)) this.evtchn.close(GUEST_DOMID, port);
    this.singleshot?.cancel();
    this.singleshot = null;
    this.grants = this.newGrantTable();
    this.behindNs = behindNs;
    this.bytes(this.sharedInfo + S.SHARED_INFO_EVTCHN_PENDING, E.EVTCHN_2L_NR_CHANNELS / 8).fill(0);
    this.bytes(this.sharedInfo + S.SHARED_INFO_EVTCHN_MASK, E.EVTCHN_2L_NR_CHANNELS / 8).fill(0xff);
    const v = this.view();
    v.setUint8(this.sharedInfo + S.VCPU_INFO_UPCALL_PENDING, 0);
    v.setBigUint64(this.sharedInfo + S.VCPU_INFO_PENDING_SEL, 0n, true);
    writeWallClock(v, this.sharedInfo, this.clock, this.unixAtZeroNs + this.clock.now(), behindNs);
    this.updateTime();
  }

  // A device channel the toolstack sets up before the guest runs (console,
  // xenstore): the guest's port allocated unbound for dom0 at the number
  // start_info announces, the reserved grant entry for the ring page seeded
  // (xc_dom_gnttab_seed), and dom0's backend bound to it. Returns dom0's port.
  setUpBackendChannel(guestPort: number, grantRef: number, ringMfn: number): number {
    check(this.evtchn.allocUnbound(GUEST_DOMID, DOM0, guestPort), `domain build: guest port ${guestPort}`);
    this.grants.writeEntry(grantRef, { flags: G.GTF_permit_access, domid: DOM0, frame: ringMfn });
    return this.dom0.bindInterdomain(GUEST_DOMID, guestPort);
  }

  // ---- the guest's entry points ----

  // A guest that never blocks is still preempted: Xen lets dom0 run at
  // least once per scheduler time slice (on the rig one pCPU is shared).
  // Without it a busy guest stopped its backends in the sim, never on Xen
  // (closing a disk whose handler resubmits on every completion waited
  // out its 30 s timeout here).
  rdtsc(): bigint {
    const tsc = this.clock.rdtsc();
    if (this.clock.now() - this.lastRun >= TIME_SLICE_NS) this.runPending();
    return tsc;
  }

  // Runs `cb` (as dom0) the next time the guest blocks with nothing to do:
  // it has dealt with everything sent to it so far (for tests and fuzzing
  // that check the guest's state between inputs).
  whenBlocked(cb: () => void): void {
    this.blockedHooks.push(cb);
  }

  // Runs dom0's queued work now (the sim does this itself whenever the
  // guest sends, yields, polls or blocks).
  runPending(): void {
    this.lastRun = this.clock.now();
    this.runQueue.drain();
  }

  hypercall(op: number, a1: bigint, a2: bigint, a3: bigint, _a4 = 0n, _a5 = 0n): bigint {
    try {
      return BigInt(this.dispatch(op, a1, a2, a3));
    } catch (e) {
      if (e instanceof Fault) return BigInt(-XEN.XEN_EFAULT);
      throw e;
    }
  }

  private dispatch(op: number, a1: bigint, a2: bigint, a3: bigint): number {
    switch (op) {
      case XEN.HYPERVISOR_console_io: return this.consoleIo(Number(a1), a2, a3);
      case XEN.HYPERVISOR_sched_op: return this.schedOp(Number(a1), a2);
      case XEN.HYPERVISOR_event_channel_op: return this.eventChannelOp(Number(a1), a2);
      case XEN.HYPERVISOR_grant_table_op: return this.grantTableOp(Number(a1), a2, a3);
      case XEN.HYPERVISOR_update_va_mapping: return this.updateVaMapping(a1, a2);
      case XEN.HYPERVISOR_vcpu_op: return this.vcpuOp(Number(a1), a2, a3);
      case XEN.HYPERVISOR_memory_op: return this.memoryOp(Number(a1), a2);
      case XEN.HYPERVISOR_hvm_op: return this.hvmOp(Number(a1), a2);
      default: return -XEN.XEN_ENOSYS;
    }
  }

  // ---- guest memory ----

  private pointer(a: bigint): number {
    if (a < 0n || a > 0xffffffffn) throw new Fault();
    return Number(a);
  }

  // A guest struct of `size` bytes at `a`, or -EFAULT.
  private guestArg(a: bigint, size: number): number {
    const at = this.pointer(a);
    if (at + size > this.opts.memory().byteLength) throw new Fault();
    return at;
  }

  // The address of the guest's RAM page with frame `frame` (machine frame
  // under PV, guest frame under PVH), or null.
  private ramPage(frame: number): number | null {
    const pfn = this.physmap.pfnOf(frame);
    if (pfn <= 0 || pfn >= this.opts.nrPages) return null;
    const at = L.pageAddress(pfn);
    return at + L.PAGE_SIZE <= this.opts.memory().byteLength ? at : null;
  }

  // ---- console_io ----

  private consoleIo(cmd: number, len: bigint, buf: bigint): number {
    if (cmd !== XEN.CONSOLEIO_write) return -XEN.XEN_ENOSYS;
    if (!this.opts.privileged) return -XEN.XEN_EPERM; // as a release Xen does for a domU
    const n = Number(len);
    this.opts.consoleIo?.(this.bytes(this.guestArg(buf, n), n).slice());
    return 0;
  }

  // ---- scheduling and time ----

  private schedOp(cmd: number, arg: bigint): number {
    switch (cmd) {
      case XEN.SCHEDOP_yield: return this.yield();
      case XEN.SCHEDOP_block: return this.block();
      case XEN.SCHEDOP_poll: return this.poll(this.guestArg(arg, XEN.SCHED_POLL_SIZE));
      case XEN.SCHEDOP_shutdown: {
        const reason = REASONS[this.view().getUint32(this.guestArg(arg, 4), true)];
        if (!reason) return -XEN.XEN_EINVAL;
        throw new Shutdown(reason);
      }
      default: return -XEN.XEN_ENOSYS;
    }
  }

  // Another vCPU (dom0) gets to run; a yield costs a little time like rdtsc,
  // so a guest that spins on yield still reaches dom0's timers.
  private yield(): number {
    this.clock.tick();
    this.runPending();
    this.updateTime();
    return 0;
  }

  // do_poll: returns at once if a polled port is pending, else sleeps until
  // one is (any event at all when several ports are polled, as Xen), an
  // upcall is kicked, or `timeout` (absolute system time; 0: none) passes.
  // Returns 0 in every case.
  private poll(arg: number): number {
    const v = this.view();
    const nr = v.getUint32(arg + XEN.SCHED_POLL_NR_PORTS, true);
    const timeout = v.getBigUint64(arg + XEN.SCHED_POLL_TIMEOUT, true);
    if (nr > SCHED_POLL_MAX_PORTS) return -XEN.XEN_EINVAL;
    const list = this.guestArg(v.getBigUint64(arg + XEN.SCHED_POLL_PORTS, true), nr * 4);
    const ports: number[] = [];
    for (let i = 0; i < nr; i++) ports.push(v.getUint32(list + i * 4, true));
    if (ports.some((p) => p >= E.EVTCHN_2L_NR_CHANNELS)) return -XEN.XEN_EINVAL;
    this.runPending();
    if (this.upcallDeliverable() || ports.some((p) => this.guestEvents.isPending(p))) {
      this.updateTime();
      return 0;
    }
    this.sleep({ ports, woken: false }, timeout === 0n ? null : timeout + this.behindNs, `SCHEDOP_poll on ports [${ports.join(", ")}]`);
    return 0;
  }

  // do_block re-enables upcalls (evtchn_upcall_mask = 0) before sleeping,
  // so the next event is delivered as an upcall: see kick().
  private block(): number {
    this.view().setUint8(this.sharedInfo + S.VCPU_INFO_UPCALL_MASK, 0);
    if (this.upcallDeliverable()) this.upcall();
    this.sleep({ ports: null, woken: false }, null, "SCHEDOP_block");
    return 0;
  }

  // The blocked guest's view of time passing: dom0 runs, the clock jumps to
  // the next timer, until the guest is woken or `deadline` passes.
  private sleep(waiter: Waiter, deadline: bigint | null, what: string): void {
    const started = this.clock.now();
    const limit = this.opts.maxBlockNs ?? 3_600_000_000_000n;
    this.waiting = waiter;
    try {
      for (;;) {
        this.runPending();
        if (waiter.woken || (deadline !== null && this.clock.now() >= deadline)) return;
        if (this.blockedHooks.length > 0) {
          for (const hook of this.blockedHooks.splice(0)) hook();
          continue;
        }
        const timer = this.clock.nextDeadline();
        const next = deadline === null || (timer !== null && timer < deadline) ? timer : deadline;
        const until = this.opts.outside?.wait(next) ?? null;
        if (until !== null) {
          this.clock.advanceTo(until);
          continue;
        }
        if (next === null) {
          throw new GuestBlockedForever(`sim: guest blocked forever in ${what}: no timeout, and no dom0 work or timer pending`);
        }
        if (deadline === null && next - started > limit) {
          throw new GuestBlockedForever(`sim: guest still blocked in ${what} after ${limit / 1_000_000n} ms of virtual time`);
        }
        this.clock.advanceTo(next);
      }
    } finally {
      this.waiting = null;
      this.updateTime();
    }
  }

  // vcpu_kick: an upcall became pending. With upcalls unmasked Xen would
  // now enter the guest's event callback; tsxen registers none (and the sim
  // never calls into wasm), so under Xen this is a jump to address 0.
  private kick(): void {
    if (this.view().getUint8(this.sharedInfo + S.VCPU_INFO_UPCALL_MASK) === 0) this.upcall();
    if (this.waiting) this.waiting.woken = true;
  }

  private upcall(): never {
    throw new Shutdown("crash", "sim: event upcall with evtchn_upcall_mask clear (SCHEDOP_block unmasks upcalls), " +
      "but no event callback is registered: under Xen the guest would jump to address 0\n");
  }

  // evtchn_check_pollers: a single-port poll wakes for its port, a
  // multi-port poll for any port.
  private portPending(port: number): void {
    const w = this.waiting;
    if (w?.ports && (w.ports.length !== 1 || w.ports[0] === port)) w.woken = true;
  }

  // local_events_need_delivery
  private upcallDeliverable(): boolean {
    const v = this.view();
    return v.getUint8(this.sharedInfo + S.VCPU_INFO_UPCALL_PENDING) !== 0 && v.getUint8(this.sharedInfo + S.VCPU_INFO_UPCALL_MASK) === 0;
  }

  // update_vcpu_system_time, done when the vCPU is scheduled again.
  updateTime(): void {
    writeVcpuTime(this.view(), this.sharedInfo + S.VCPU_INFO_TIME, this.clock, this.behindNs);
  }

  private vcpuOp(cmd: number, vcpu: bigint, arg: bigint): number {
    if (vcpu !== 0n) return -XEN.XEN_ENOENT;
    switch (cmd) {
      case V.VCPUOP_set_singleshot_timer: return this.setSingleshot(this.guestArg(arg, V.VCPU_SET_SINGLESHOT_TIMER_SIZE));
      case V.VCPUOP_stop_singleshot_timer:
        this.singleshot?.cancel();
        this.singleshot = null;
        return 0;
      default: return -XEN.XEN_ENOSYS;
    }
  }

  // The timer raises VIRQ_TIMER when it expires (and nothing if the guest
  // has not bound it).
  private setSingleshot(arg: number): number {
    const v = this.view();
    const at = v.getBigUint64(arg + V.VCPU_SET_SINGLESHOT_TIMER_TIMEOUT_ABS_NS, true) + this.behindNs;
    const flags = v.getUint32(arg + V.VCPU_SET_SINGLESHOT_TIMER_FLAGS, true);
    if ((flags & V.VCPU_SSHOTTMR_future) && at < this.clock.now()) return -XEN.XEN_ETIME;
    this.singleshot?.cancel();
    this.singleshot = this.clock.at(at, () => {
      this.singleshot = null;
      this.evtchn.sendVirq(GUEST_DOMID, E.VIRQ_TIMER);
    });
    return 0;
  }

  // ---- event channels ----

  private eventChannelOp(cmd: number, arg: bigint): number {
    switch (cmd) {
      case E.EVTCHNOP_alloc_unbound: return this.allocUnbound(this.guestArg(arg, E.EVTCHN_ALLOC_UNBOUND_SIZE));
      case E.EVTCHNOP_bind_interdomain: return this.bindInterdomain(this.guestArg(arg, E.EVTCHN_BIND_INTERDOMAIN_SIZE));
      case E.EVTCHNOP_bind_virq: return this.bindVirq(this.guestArg(arg, E.EVTCHN_BIND_VIRQ_SIZE));
      case E.EVTCHNOP_send: {
        const rc = this.evtchn.send(GUEST_DOMID, this.portArg(arg));
        this.runPending(); // the backend reacts before the guest goes on
        return rc;
      }
      case E.EVTCHNOP_close: return this.evtchn.close(GUEST_DOMID, this.portArg(arg));
      case E.EVTCHNOP_unmask: {
        const port = this.portArg(arg);
        if (port >= E.EVTCHN_2L_NR_CHANNELS) return -XEN.XEN_EINVAL;
        this.guestEvents.unmask(port);
        return 0;
      }
      default: return -XEN.XEN_ENOSYS;
    }
  }

  private portArg(arg: bigint): number {
    return this.view().getUint32(this.guestArg(arg, E.EVTCHN_PORT_ARG_SIZE), true);
  }

  private self(domid: number): number {
    return domid === E.DOMID_SELF ? GUEST_DOMID : domid;
  }

  private allocUnbound(arg: number): number {
    const v = this.view();
    const dom = this.self(v.getUint16(arg + E.EVTCHN_ALLOC_UNBOUND_DOM, true));
    const remote = this.self(v.getUint16(arg + E.EVTCHN_ALLOC_UNBOUND_REMOTE_DOM, true));
    if (dom !== GUEST_DOMID && !this.opts.privileged) return -XEN.XEN_EPERM;
    return this.withPort(this.evtchn.allocUnbound(dom, remote), arg + E.EVTCHN_ALLOC_UNBOUND_PORT);
  }

  private bindInterdomain(arg: number): number {
    const v = this.view();
    const remote = this.self(v.getUint16(arg + E.EVTCHN_BIND_INTERDOMAIN_REMOTE_DOM, true));
    const remotePort = v.getUint32(arg + E.EVTCHN_BIND_INTERDOMAIN_REMOTE_PORT, true);
    return this.withPort(this.evtchn.bindInterdomain(GUEST_DOMID, remote, remotePort), arg + E.EVTCHN_BIND_INTERDOMAIN_LOCAL_PORT);
  }

  private bindVirq(arg: number): number {
    const v = this.view();
    if (v.getUint32(arg + E.EVTCHN_BIND_VIRQ_VCPU, true) !== 0) return -XEN.XEN_ENOENT;
    return this.withPort(this.evtchn.bindVirq(GUEST_DOMID, v.getUint32(arg + E.EVTCHN_BIND_VIRQ_VIRQ, true)), arg + E.EVTCHN_BIND_VIRQ_PORT);
  }

  // Writes a new port to the struct's out field; returns 0 or the error.
  private withPort(rc: number, out: number): number {
    if (rc < 0) return rc;
    this.view().setUint32(out, rc, true);
    return 0;
  }

  // ---- grant tables ----

  private grantTableOp(cmd: number, uop: bigint, count: bigint): number {
    if (cmd !== G.GNTTABOP_query_size && cmd !== G.GNTTABOP_setup_table) return -XEN.XEN_ENOSYS;
    if (count !== 1n) return -XEN.XEN_EINVAL;
    return cmd === G.GNTTABOP_query_size
      ? this.querySize(this.guestArg(uop, G.GNTTAB_QUERY_SIZE_SIZE))
      : this.setupTable(this.guestArg(uop, G.GNTTAB_SETUP_TABLE_SIZE));
  }

  // The status for an operation on domain `dom`'s table (DOMID_SELF or ours).
  private grantDomainStatus(dom: number): number {
    if (this.self(dom) === GUEST_DOMID) return G.GNTST_okay;
    return this.self(dom) === DOM0 ? G.GNTST_permission_denied : G.GNTST_bad_domain;
  }

  private querySize(arg: number): number {
    const v = this.view();
    const status = this.grantDomainStatus(v.getUint16(arg + G.GNTTAB_QUERY_SIZE_DOM, true));
    if (status === G.GNTST_okay) {
      v.setUint32(arg + G.GNTTAB_QUERY_SIZE_NR_FRAMES, this.grants.nrFrames, true);
      v.setUint32(arg + G.GNTTAB_QUERY_SIZE_MAX_NR_FRAMES, this.grants.maxFrames, true);
    }
    v.setInt16(arg + G.GNTTAB_QUERY_SIZE_STATUS, status, true);
    return 0;
  }

  // Grows the table to nr_frames and returns the frames' MFNs in frame_list;
  // the guest maps them with update_va_mapping.
  private setupTable(arg: number): number {
    const v = this.view();
    const nr = v.getUint32(arg + G.GNTTAB_SETUP_TABLE_NR_FRAMES, true);
    let status = this.grantDomainStatus(v.getUint16(arg + G.GNTTAB_SETUP_TABLE_DOM, true));
    if (status === G.GNTST_okay && nr > this.grants.maxFrames) status = G.GNTST_general_error;
    if (status === G.GNTST_okay) {
      const list = this.guestArg(v.getBigUint64(arg + G.GNTTAB_SETUP_TABLE_FRAME_LIST, true), nr * 8);
      this.grants.grow(nr);
      for (let i = 0; i < nr; i++) v.setBigUint64(list + i * 8, BigInt(this.grants.frameMfn(i)), true);
    }
    v.setInt16(arg + G.GNTTAB_SETUP_TABLE_STATUS, status, true);
    return 0;
  }

  // update_va_mapping, for exactly one case: mapping one of the guest's
  // grant-table frames (present PTE, its MFN) at a page of wasm memory.
  // The UVMF_* flush flags have nothing to flush here and are not checked.
  // A PVH guest has its own page tables: Xen has no such hypercall for it.
  private updateVaMapping(va: bigint, pte: bigint): number {
    if (this.mode === "pvh") return -XEN.XEN_ENOSYS;
    // Unmapping a grant-table frame (before a suspend): the frame leaves the
    // guest's page, which is RAM again.
    if ((pte & 1n) === 0n && va <= 0xffffffffn) return this.grants.unplaceAt(Number(va)) ? 0 : -XEN.XEN_EINVAL;
    const index = this.grants.frameIndex(Number((pte >> 12n) & 0xff_ffff_ffffn));
    if ((pte & 1n) === 0n || index < 0 || va % BigInt(L.PAGE_SIZE) !== 0n || va < BigInt(L.PAGE_SIZE)) return -XEN.XEN_EINVAL;
    if (va + BigInt(L.PAGE_SIZE) > BigInt(this.opts.memory().byteLength)) return -XEN.XEN_EINVAL;
    this.grants.placeFrame(index, Number(va));
    return 0;
  }

  // ---- translated (PVH) guests ----

  // XENMEM_add_to_physmap: places grant-table frame idx (the table grows to
  // it, up to its maximum, as gnttab_map_frame does) or shared_info at
  // guest frame gpfn, whose RAM page it replaces. The sim keeps shared_info
  // where the native boot code puts it, so it can only be placed there
  // again. Refused for a PV guest, which maps frames with update_va_mapping.
  private memoryOp(cmd: number, arg: bigint): number {
    if (cmd !== MEM.XENMEM_add_to_physmap) return -XEN.XEN_ENOSYS;
    if (this.mode !== "pvh") return -XEN.XEN_EINVAL;
    const at = this.guestArg(arg, MEM.XEN_ADD_TO_PHYSMAP_SIZE);
    const v = this.view();
    if (this.self(v.getUint16(at + MEM.XEN_ADD_TO_PHYSMAP_DOMID, true)) !== GUEST_DOMID) return -XEN.XEN_EPERM;
    const space = v.getUint32(at + MEM.XEN_ADD_TO_PHYSMAP_SPACE, true);
    const idx = v.getBigUint64(at + MEM.XEN_ADD_TO_PHYSMAP_IDX, true);
    const gpfn = v.getBigUint64(at + MEM.XEN_ADD_TO_PHYSMAP_GPFN, true);
    const va = gpfn * BigInt(L.PAGE_SIZE);
    if (gpfn === 0n || va + BigInt(L.PAGE_SIZE) > BigInt(this.opts.memory().byteLength)) return -XEN.XEN_EINVAL;
    switch (space) {
      case MEM.XENMAPSPACE_grant_table:
        if (idx >= BigInt(this.grants.maxFrames)) return -XEN.XEN_EINVAL;
        this.grants.grow(Number(idx) + 1);
        this.grants.placeFrame(Number(idx), Number(va));
        return 0;
      case MEM.XENMAPSPACE_shared_info:
        return idx === 0n && Number(va) === this.sharedInfo ? 0 : -XEN.XEN_EINVAL;
      default:
        return -XEN.XEN_EINVAL;
    }
  }

  // HVMOP_get_param for the guest itself (PVH); PV guests have no HVM params.
  private hvmOp(cmd: number, arg: bigint): number {
    if (cmd !== HVM.HVMOP_get_param) return -XEN.XEN_ENOSYS;
    if (this.mode !== "pvh") return -XEN.XEN_EINVAL;
    const at = this.guestArg(arg, HVM.XEN_HVM_PARAM_SIZE);
    const v = this.view();
    if (this.self(v.getUint16(at + HVM.XEN_HVM_PARAM_DOMID, true)) !== GUEST_DOMID) return -XEN.XEN_EPERM;
    const value = this.hvmParams.get(v.getUint32(at + HVM.XEN_HVM_PARAM_INDEX, true));
    if (value === undefined) return -XEN.XEN_EINVAL;
    v.setBigUint64(at + HVM.XEN_HVM_PARAM_VALUE, value, true);
    return 0;
  }
}
