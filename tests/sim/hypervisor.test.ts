// The simulated hypervisor (sim/hypervisor.ts, evtchn.ts, grant-table.ts,
// clock.ts) driven through its hypercall entry point with a fake guest: a
// WebAssembly.Memory whose argument structs and shared_info bits the test
// writes and reads as a guest would. Event channels (2-level bits, mask and
// unmask, close), SCHEDOP_poll in virtual time, pvclock, grant tables with
// Xen's permission checks; and one real guest, to see the domain builder's
// channels.
import test from "tape";
import { Hypervisor, GuestBlockedForever, Shutdown, type HypervisorOptions } from "../../sim/hypervisor.ts";
import { GrantError } from "../../sim/grant-table.ts";
import { XenError } from "../../sim/evtchn.ts";
import { pvclockNs } from "../../sim/clock.ts";
import { SimGuest } from "../../sim/host.ts";
import * as XEN from "../../runtime/abi/xen.ts";
import * as E from "../../runtime/abi/event_channel.ts";
import * as G from "../../runtime/abi/grant_table.ts";
import * as S from "../../runtime/abi/shared_info.ts";
import * as V from "../../runtime/abi/vcpu.ts";
import * as HVM from "../../runtime/abi/hvm.ts";
import * as MEM from "../../runtime/abi/memory.ts";
import * as L from "../../sim/layout.ts";
import { startedGuest, wasmOf, willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("examples/selftest/main.ts");

const ARG = 0x10000;         // where the fake guest builds hypercall argument structs
const PORTS = 0x10100;       // sched_poll's port array
const FRAMES = 0x10200;      // setup_table's frame list
const TABLE = 0x20000;       // where the fake guest maps its grant table (page-aligned)
const DATA_PFN = 0x40;       // a page of the fake guest's RAM it grants
const MS = 1_000_000n;

type Arg = number | bigint;

function fakeGuest(opts: Partial<HypervisorOptions> = {}) {
  const memory = new WebAssembly.Memory({ initial: 64 }); // 4 MiB = 1024 pages
  const hv = new Hypervisor({ memory: () => memory.buffer, nrPages: 1024, wallClockNs: 1_700_000_000_123_456_789n, ...opts });
  hv.initSharedInfo();
  const v = () => new DataView(memory.buffer);
  const si = hv.sharedInfo;
  const call = (op: number, a1: Arg = 0, a2: Arg = 0, a3: Arg = 0) => Number(hv.hypercall(op, BigInt(a1), BigInt(a2), BigInt(a3)));
  const evtchnOp = (cmd: number) => call(XEN.HYPERVISOR_event_channel_op, cmd, ARG);
  const portOp = (cmd: number, port: number) => {
    v().setUint32(ARG, port, true);
    return evtchnOp(cmd);
  };
  const bit = (offset: number, n: number) => ((v().getUint8(si + offset + (n >> 3)) >> (n & 7)) & 1) === 1;
  const setBit = (offset: number, n: number, on: boolean) => {
    const at = si + offset + (n >> 3);
    const old = v().getUint8(at);
    v().setUint8(at, on ? old | (1 << (n & 7)) : old & ~(1 << (n & 7)));
  };
  const guest = {
    allocUnbound(remote: number): number {
      v().setUint16(ARG + E.EVTCHN_ALLOC_UNBOUND_DOM, E.DOMID_SELF, true);
      v().setUint16(ARG + E.EVTCHN_ALLOC_UNBOUND_REMOTE_DOM, remote, true);
      const rc = evtchnOp(E.EVTCHNOP_alloc_unbound);
      return rc < 0 ? rc : v().getUint32(ARG + E.EVTCHN_ALLOC_UNBOUND_PORT, true);
    },
    bindInterdomain(remote: number, remotePort: number): number {
      v().setUint16(ARG + E.EVTCHN_BIND_INTERDOMAIN_REMOTE_DOM, remote, true);
      v().setUint32(ARG + E.EVTCHN_BIND_INTERDOMAIN_REMOTE_PORT, remotePort, true);
      const rc = evtchnOp(E.EVTCHNOP_bind_interdomain);
      return rc < 0 ? rc : v().getUint32(ARG + E.EVTCHN_BIND_INTERDOMAIN_LOCAL_PORT, true);
    },
    bindVirq(virq: number, vcpu = 0): number {
      v().setUint32(ARG + E.EVTCHN_BIND_VIRQ_VIRQ, virq, true);
      v().setUint32(ARG + E.EVTCHN_BIND_VIRQ_VCPU, vcpu, true);
      const rc = evtchnOp(E.EVTCHNOP_bind_virq);
      return rc < 0 ? rc : v().getUint32(ARG + E.EVTCHN_BIND_VIRQ_PORT, true);
    },
    send: (port: number) => portOp(E.EVTCHNOP_send, port),
    close: (port: number) => portOp(E.EVTCHNOP_close, port),
    unmask: (port: number) => portOp(E.EVTCHNOP_unmask, port),
    poll(ports: number[], timeout: bigint): number {
      ports.forEach((p, i) => v().setUint32(PORTS + i * 4, p, true));
      v().setBigUint64(ARG + XEN.SCHED_POLL_PORTS, BigInt(PORTS), true);
      v().setUint32(ARG + XEN.SCHED_POLL_NR_PORTS, ports.length, true);
      v().setBigUint64(ARG + XEN.SCHED_POLL_TIMEOUT, timeout, true);
      return call(XEN.HYPERVISOR_sched_op, XEN.SCHEDOP_poll, ARG);
    },
    singleshot(at: bigint, flags = 0): number {
      v().setBigUint64(ARG + V.VCPU_SET_SINGLESHOT_TIMER_TIMEOUT_ABS_NS, at, true);
      v().setUint32(ARG + V.VCPU_SET_SINGLESHOT_TIMER_FLAGS, flags, true);
      return call(XEN.HYPERVISOR_vcpu_op, V.VCPUOP_set_singleshot_timer, 0, ARG);
    },
    pending: (port: number) => bit(S.SHARED_INFO_EVTCHN_PENDING, port),
    sel: (port: number) => bit(S.VCPU_INFO_PENDING_SEL, port >> 6),
    upcallPending: () => v().getUint8(si + S.VCPU_INFO_UPCALL_PENDING) !== 0,
    mask: (port: number, on: boolean) => setBit(S.SHARED_INFO_EVTCHN_MASK, port, on),
    // What runtime/events.ts does before scanning: consume the upcall and selector.
    ack(port: number) {
      v().setUint8(si + S.VCPU_INFO_UPCALL_PENDING, 0);
      v().setBigUint64(si + S.VCPU_INFO_PENDING_SEL, 0n, true);
      setBit(S.SHARED_INFO_EVTCHN_PENDING, port, false);
    },
  };
  return { hv, memory, v, call, guest, dom0: hv.dom0, clock: hv.clock };
}

// ---- event channels

test("evtchn: alloc_unbound + dom0 bind_interdomain; dom0's send sets pending, selector and upcall_pending", (t) => {
  const { guest, dom0, hv } = fakeGuest();
  const port = guest.allocUnbound(0);
  t.equal(port, 1, "the lowest free port (0 is reserved)");
  t.deepEqual(hv.evtchn.channel(1, port), { state: "unbound", remoteDom: 0 });
  const back = dom0.bindInterdomain(1, port);
  t.deepEqual(hv.evtchn.channel(1, port), { state: "interdomain", remoteDom: 0, remotePort: back });
  t.ok(dom0.isPending(back), "as Xen, the binding side's new port starts pending");
  t.notOk(guest.pending(port) || guest.upcallPending(), "nothing pending in the guest yet");
  dom0.send(back);
  t.ok(guest.pending(port), "evtchn_pending bit");
  t.ok(guest.sel(port), "evtchn_pending_sel bit");
  t.ok(guest.upcallPending(), "vcpu_info.evtchn_upcall_pending");
  t.throws(() => dom0.bindInterdomain(1, port), XenError, "a port that is no longer unbound cannot be bound again");
  t.end();
});

test("evtchn: a port above 63 uses the next selector bit", (t) => {
  const { guest, dom0 } = fakeGuest();
  let port = 0;
  for (let i = 0; i < 70; i++) port = guest.allocUnbound(0);
  const back = dom0.bindInterdomain(1, port);
  dom0.send(back);
  t.equal(port, 70);
  t.ok(guest.pending(70) && guest.sel(70) && !guest.sel(0), "pending bit 70, selector bit 1 only");
  t.end();
});

test("evtchn: a masked port stays pending silently; unmask re-raises selector and upcall", (t) => {
  const { guest, dom0 } = fakeGuest();
  const port = guest.allocUnbound(0);
  const back = dom0.bindInterdomain(1, port);
  guest.mask(port, true);
  dom0.send(back);
  t.ok(guest.pending(port), "pending bit set even while masked");
  t.notOk(guest.sel(port) || guest.upcallPending(), "but no selector bit and no upcall");
  t.equal(guest.unmask(port), 0);
  t.ok(guest.sel(port) && guest.upcallPending(), "unmask raises what the masked event did not");
  guest.ack(port);
  guest.mask(port, true);
  t.equal(guest.unmask(port), 0);
  t.notOk(guest.sel(port) || guest.upcallPending(), "unmasking a port with nothing pending raises nothing");
  t.equal(guest.unmask(E.EVTCHN_2L_NR_CHANNELS), -XEN.XEN_EINVAL, "port out of range");
  t.end();
});

test("evtchn: the guest binds to dom0's port; its sends reach dom0.onEvent through the run queue", (t) => {
  const { guest, dom0 } = fakeGuest();
  const back = dom0.allocUnbound(1);
  const seen: number[] = [];
  dom0.onEvent(back, (p) => seen.push(p));
  const port = guest.bindInterdomain(0, back);
  t.ok(port > 0, `bound as guest port ${port}`);
  t.ok(guest.pending(port), "the guest's new port starts pending (Xen's conservative notification)");
  t.equal(guest.send(port), 0);
  t.deepEqual(seen, [back], "the callback ran before the send hypercall returned");
  t.equal(guest.send(port), 0);
  t.deepEqual(seen, [back, back], "one callback per send");
  t.equal(guest.bindInterdomain(0, back), -XEN.XEN_EINVAL, "dom0's port is no longer unbound");
  t.equal(guest.bindInterdomain(7, 1), -XEN.XEN_ESRCH, "no such domain");
  t.end();
});

test("evtchn: events coalesce while dom0 has no callback, and run once one is registered", (t) => {
  const { guest, dom0, hv } = fakeGuest();
  const back = dom0.allocUnbound(1);
  const port = guest.bindInterdomain(0, back);
  guest.send(port);
  guest.send(port);
  t.ok(dom0.isPending(back), "pending, nobody listening");
  let calls = 0;
  dom0.onEvent(back, () => calls++);
  t.equal(calls, 0, "callbacks never run from inside onEvent");
  hv.runPending();
  t.equal(calls, 1, "two sends, one pending event");
  t.notOk(dom0.isPending(back));
  t.end();
});

test("evtchn: close frees the port, clears its pending bit, and leaves the peer unbound", (t) => {
  const { guest, dom0, hv } = fakeGuest();
  const port = guest.allocUnbound(0);
  const back = dom0.bindInterdomain(1, port);
  dom0.send(back);
  t.equal(guest.close(port), 0);
  t.notOk(guest.pending(port), "pending bit cleared");
  t.equal(hv.evtchn.channel(1, port), undefined, "guest port free");
  t.deepEqual(hv.evtchn.channel(0, back), { state: "unbound", remoteDom: 1 }, "dom0's end is unbound again");
  t.equal(guest.send(port), -XEN.XEN_EINVAL, "send on a closed port");
  t.equal(guest.close(port), -XEN.XEN_EINVAL, "close twice");
  t.equal(guest.close(0), -XEN.XEN_EINVAL, "port 0 is reserved");
  dom0.send(back); // sending on an unbound port is dropped, as Xen does
  t.notOk(guest.pending(port), "nothing delivered");
  const again = guest.bindInterdomain(0, back);
  t.equal(again, port, "the freed port is reused, and dom0's unbound port can be bound again");
  dom0.close(back);
  t.deepEqual(hv.evtchn.channel(1, again), { state: "unbound", remoteDom: 0 }, "dom0 closing leaves the guest's end unbound");
  t.throws(() => dom0.close(back), XenError, "dom0 closing twice throws");
  t.deepEqual(hv.evtchn.openPorts(0), [], "dom0 has no ports left");
  t.end();
});

// ---- SCHEDOP_poll, virtual time, timers

test("poll: returns at once if a polled port is pending, without time passing", (t) => {
  const { guest, dom0, clock } = fakeGuest();
  const port = guest.allocUnbound(0);
  dom0.send(dom0.bindInterdomain(1, port));
  const before = clock.now();
  t.equal(guest.poll([port], 0n), 0);
  t.equal(clock.now(), before, "no virtual time passed");
  t.end();
});

test("poll: a timeout with nothing pending returns 0 exactly at the deadline", (t) => {
  const { guest, clock } = fakeGuest();
  const port = guest.allocUnbound(0);
  const deadline = clock.now() + 250n * MS;
  t.equal(guest.poll([port], deadline), 0);
  t.equal(clock.now(), deadline, "the clock jumped to the timeout");
  t.equal(guest.poll([port], deadline - MS), 0, "a timeout in the past returns at once");
  t.equal(clock.now(), deadline);
  t.end();
});

test("poll: dom0 work scheduled in virtual time wakes the guest early", (t) => {
  const { guest, dom0, clock } = fakeGuest();
  const port = guest.allocUnbound(0);
  const back = dom0.bindInterdomain(1, port);
  const start = clock.now();
  dom0.after(3n * MS, () => dom0.send(back));
  t.equal(guest.poll([port], start + 10n * MS), 0);
  t.equal(clock.now(), start + 3n * MS, "woken when dom0 sent, not at the timeout");
  t.ok(guest.pending(port));
  t.end();
});

test("poll: a single-port poll ignores a masked event elsewhere; an unmasked one kicks it awake (as Xen)", (t) => {
  const { guest, dom0, clock } = fakeGuest();
  const a = guest.allocUnbound(0);
  const b = guest.allocUnbound(0);
  const backB = dom0.bindInterdomain(1, b);
  guest.mask(b, true);
  const start = clock.now();
  dom0.after(MS, () => dom0.send(backB));
  guest.poll([a], start + 10n * MS);
  t.equal(clock.now(), start + 10n * MS, "masked event on another port: slept to the timeout");
  guest.ack(b);
  guest.mask(b, false);
  dom0.after(MS, () => dom0.send(backB));
  guest.poll([a], clock.now() + 10n * MS);
  t.equal(clock.now(), start + 11n * MS, "an unmasked event sets upcall_pending, which wakes any poller");
  t.end();
});

test("poll: a guest that can never be woken fails instead of hanging", (t) => {
  const { guest } = fakeGuest();
  const port = guest.allocUnbound(0);
  t.throws(() => guest.poll([port], 0n), (e: unknown) => e instanceof GuestBlockedForever && /blocked forever in SCHEDOP_poll on ports \[1\]/.test(e.message));
  t.equal(guest.poll(new Array(129).fill(port), 0n), -XEN.XEN_EINVAL, "more than 128 ports");
  t.equal(guest.poll([E.EVTCHN_2L_NR_CHANNELS], 0n), -XEN.XEN_EINVAL, "port out of range");
  t.end();
});

test("poll: a guest waiting forever on dom0 timers that never wake it hits the block limit", (t) => {
  const { guest, dom0 } = fakeGuest({ maxBlockNs: 100n * MS });
  const port = guest.allocUnbound(0);
  const tick = () => dom0.after(MS, tick);
  tick();
  t.throws(() => guest.poll([port], 0n), /still blocked in SCHEDOP_poll on ports \[1\] after 100 ms/);
  t.end();
});

test("time: VIRQ_TIMER and the singleshot timer wake a poll at the timer's deadline", (t) => {
  const { guest, clock } = fakeGuest();
  const virq = guest.bindVirq(E.VIRQ_TIMER);
  t.ok(virq > 0, `VIRQ_TIMER on port ${virq}`);
  t.equal(guest.bindVirq(E.VIRQ_TIMER), -XEN.XEN_EEXIST, "bound once only");
  t.equal(guest.bindVirq(E.VIRQ_TIMER, 1), -XEN.XEN_ENOENT, "there is only vCPU 0");
  const at = clock.now() + 5n * MS;
  t.equal(guest.singleshot(at), 0);
  guest.poll([virq], 0n);
  t.equal(clock.now(), at, "woke at the timer");
  t.ok(guest.pending(virq), "VIRQ_TIMER pending");
  t.equal(guest.singleshot(at - MS, V.VCPU_SSHOTTMR_future), -XEN.XEN_ETIME, "a past deadline with VCPU_SSHOTTMR_future");
  t.end();
});

test("time: the pvclock computed from rdtsc matches the virtual clock, before and after sleeping", (t) => {
  const { v, hv, guest, clock } = fakeGuest({ clock: { startNs: 5_000_000_000n, rdtscStepNs: 700n } });
  const time = hv.sharedInfo + S.VCPU_INFO_TIME;
  const version = () => v().getUint32(time + S.VCPU_TIME_VERSION, true);
  t.equal(version() % 2, 0, "version even: no update in progress");
  t.equal(v().getUint32(time + S.VCPU_TIME_TSC_TO_SYSTEM_MUL, true), 0x80000000, "2 GHz TSC: mul 0.5");
  t.equal(v().getInt8(time + S.VCPU_TIME_TSC_SHIFT), 0);
  const tsc1 = hv.rdtsc();
  t.equal(pvclockNs(v(), time, tsc1), 5_000_000_700n, "system time = start + one rdtsc step");
  const tsc2 = hv.rdtsc();
  t.equal(tsc2 - tsc1, 1400n, "each rdtsc advances 700 ns = 1400 ticks, so busy-waits progress");
  t.equal(pvclockNs(v(), time, tsc2), clock.now());
  const v1 = version();
  guest.poll([], clock.now() + 42n * MS);
  t.ok(version() > v1 && version() % 2 === 0, "rewritten when the vCPU runs again");
  t.equal(pvclockNs(v(), time, hv.rdtsc()), clock.now(), "still consistent after a 42 ms sleep");
  t.notEqual(v().getBigUint64(time + S.VCPU_TIME_TSC_TIMESTAMP, true), v().getBigUint64(time + S.VCPU_TIME_SYSTEM_TIME, true) * 2n,
    "the TSC is not simply 2 x system time (a guest must use tsc_timestamp)");
  t.end();
});

test("time: the wall clock is the Unix time at system time 0", (t) => {
  const { v, hv } = fakeGuest({ clock: { startNs: 2_500_000_000n } });
  const si = hv.sharedInfo;
  t.equal(v().getUint32(si + S.SHARED_INFO_WC_VERSION, true) % 2, 0);
  const sec = BigInt(v().getUint32(si + S.SHARED_INFO_WC_SEC, true)) | (BigInt(v().getUint32(si + S.SHARED_INFO_WC_SEC_HI, true)) << 32n);
  const nsec = BigInt(v().getUint32(si + S.SHARED_INFO_WC_NSEC, true));
  t.equal(sec * 1_000_000_000n + nsec + 2_500_000_000n, 1_700_000_000_123_456_789n, "wc + system time = Unix time at start");
  t.end();
});

test("sched: yield runs dom0's queued work; block unmasks upcalls as Xen does", (t) => {
  const { guest, dom0, call, v, hv } = fakeGuest();
  const port = guest.allocUnbound(0);
  const back = dom0.bindInterdomain(1, port);
  let ran = false;
  dom0.after(0, () => { ran = true; });
  hv.clock.advance(0n);
  t.notOk(ran, "due dom0 timers queue work, they do not run it");
  t.equal(call(XEN.HYPERVISOR_sched_op, XEN.SCHEDOP_yield), 0);
  t.ok(ran, "the yield let dom0 run");
  t.throws(() => call(XEN.HYPERVISOR_sched_op, XEN.SCHEDOP_block), /blocked forever in SCHEDOP_block/);
  t.equal(v().getUint8(hv.sharedInfo + S.VCPU_INFO_UPCALL_MASK), 0, "SCHEDOP_block cleared evtchn_upcall_mask");
  dom0.after(MS, () => dom0.send(back));
  t.throws(() => call(XEN.HYPERVISOR_sched_op, XEN.SCHEDOP_block),
    (e: unknown) => e instanceof Shutdown && e.reason === "crash" && /no event callback is registered/.test(e.message),
    "the event becomes an upcall, which a tsxen guest cannot take: a crash, as under Xen");
  t.end();
});

test("hypercalls: bad pointers give -EFAULT, unknown operations -ENOSYS", (t) => {
  const { call } = fakeGuest();
  t.equal(call(XEN.HYPERVISOR_event_channel_op, E.EVTCHNOP_send, 0x7ffffffe), -XEN.XEN_EFAULT);
  t.equal(call(XEN.HYPERVISOR_sched_op, XEN.SCHEDOP_poll, -1n), -XEN.XEN_EFAULT);
  t.equal(call(XEN.HYPERVISOR_event_channel_op, 99, ARG), -XEN.XEN_ENOSYS);
  t.equal(call(XEN.HYPERVISOR_memory_op, 0, ARG), -XEN.XEN_ENOSYS);
  t.equal(call(XEN.HYPERVISOR_console_io, XEN.CONSOLEIO_write, 1, ARG), -XEN.XEN_EPERM, "console_io is for the initial domain");
  t.end();
});

// ---- grant tables

// A fake guest with its grant table set up and mapped as grant-tables/index.ts does it.
function withGrantTable(frames = 2) {
  const g = fakeGuest();
  const { v, call } = g;
  v().setUint16(ARG + G.GNTTAB_SETUP_TABLE_DOM, E.DOMID_SELF, true);
  v().setUint32(ARG + G.GNTTAB_SETUP_TABLE_NR_FRAMES, frames, true);
  v().setBigUint64(ARG + G.GNTTAB_SETUP_TABLE_FRAME_LIST, BigInt(FRAMES), true);
  if (call(XEN.HYPERVISOR_grant_table_op, G.GNTTABOP_setup_table, ARG, 1) !== 0) throw new Error("setup_table");
  for (let i = 0; i < frames; i++) {
    const mfn = v().getBigUint64(FRAMES + i * 8, true);
    if (call(XEN.HYPERVISOR_update_va_mapping, TABLE + i * L.PAGE_SIZE, (mfn << 12n) | 0x63n, 2) !== 0) throw new Error("map frame");
  }
  const entry = (ref: number) => TABLE + ref * G.GRANT_ENTRY_V1_SIZE;
  const grant = (ref: number, domid: number, pfn: number, flags: number) => {
    v().setUint32(entry(ref) + G.GRANT_ENTRY_V1_FRAME, L.pfnToMfn(pfn), true);
    v().setUint16(entry(ref) + G.GRANT_ENTRY_V1_DOMID, domid, true);
    v().setUint16(entry(ref) + G.GRANT_ENTRY_V1_FLAGS, flags, true);
  };
  const flags = (ref: number) => v().getUint16(entry(ref) + G.GRANT_ENTRY_V1_FLAGS, true);
  return { ...g, grant, flags };
}

function grantStatus(status: number, text: RegExp) {
  return (e: unknown) => e instanceof GrantError && e.status === status && text.test(e.message);
}

test("grants: query_size, setup_table and mapping the frames with update_va_mapping", (t) => {
  const { v, call, hv } = fakeGuest();
  const query = () => {
    v().setUint16(ARG + G.GNTTAB_QUERY_SIZE_DOM, E.DOMID_SELF, true);
    t.equal(call(XEN.HYPERVISOR_grant_table_op, G.GNTTABOP_query_size, ARG, 1), 0);
    return [G.GNTTAB_QUERY_SIZE_NR_FRAMES, G.GNTTAB_QUERY_SIZE_MAX_NR_FRAMES, G.GNTTAB_QUERY_SIZE_STATUS].map((o, i) =>
      i < 2 ? v().getUint32(ARG + o, true) : v().getInt16(ARG + o, true));
  };
  t.deepEqual(query(), [1, 32, G.GNTST_okay], "one frame of 32 at first");
  const setup = (nr: number, dom = E.DOMID_SELF) => {
    v().setUint16(ARG + G.GNTTAB_SETUP_TABLE_DOM, dom, true);
    v().setUint32(ARG + G.GNTTAB_SETUP_TABLE_NR_FRAMES, nr, true);
    v().setInt16(ARG + G.GNTTAB_SETUP_TABLE_STATUS, 99, true);
    v().setBigUint64(ARG + G.GNTTAB_SETUP_TABLE_FRAME_LIST, BigInt(FRAMES), true);
    t.equal(call(XEN.HYPERVISOR_grant_table_op, G.GNTTABOP_setup_table, ARG, 1), 0);
    return v().getInt16(ARG + G.GNTTAB_SETUP_TABLE_STATUS, true);
  };
  t.equal(setup(4), G.GNTST_okay);
  const mfns = [0, 1, 2, 3].map((i) => v().getBigUint64(FRAMES + i * 8, true));
  t.equal(new Set(mfns).size, 4, "four distinct frames");
  t.ok(mfns.every((m) => hv.grants.frameIndex(Number(m)) >= 0), "frame_list holds the table's MFNs");
  t.deepEqual(query(), [4, 32, G.GNTST_okay], "the table grew to 4 frames");
  t.equal(setup(33), G.GNTST_general_error, "more than max_nr_frames");
  t.equal(setup(1, 0), G.GNTST_permission_denied, "another domain's table");
  t.equal(call(XEN.HYPERVISOR_grant_table_op, G.GNTTABOP_setup_table, ARG, 2), -XEN.XEN_EINVAL, "count must be 1");

  // Xen wrote entries before the guest mapped the frame (the toolstack's seeds do this).
  hv.grants.writeEntry(3, { flags: G.GTF_permit_access, domid: 0, frame: 0x1234 });
  const map = (va: number, pte: bigint) => call(XEN.HYPERVISOR_update_va_mapping, va, pte, 2);
  t.equal(map(TABLE, (mfns[0] << 12n) | 0x63n), 0, "frame 0 mapped");
  t.equal(v().getUint32(TABLE + 3 * 8 + G.GRANT_ENTRY_V1_FRAME, true), 0x1234, "the frame's contents appear at the mapping");
  t.equal(hv.grants.frameAddress(0), TABLE);
  t.equal(map(TABLE + 0x1000, BigInt(L.pfnToMfn(5)) << 12n | 0x63n), -XEN.XEN_EINVAL, "an ordinary RAM page: not supported");
  t.equal(map(TABLE + 0x800, (mfns[1] << 12n) | 0x63n), -XEN.XEN_EINVAL, "unaligned address");
  t.equal(map(0, (mfns[1] << 12n) | 0x63n), -XEN.XEN_EINVAL, "page 0");
  t.equal(map(64 * 65536, (mfns[1] << 12n) | 0x63n), -XEN.XEN_EINVAL, "outside wasm memory");
  t.equal(map(TABLE + 0x1000, mfns[1] << 12n), -XEN.XEN_EINVAL, "not present (unmapping)");
  t.equal(map(TABLE + 0x1000, BigInt(hv.grants.frameMfn(4)) << 12n | 0x63n), -XEN.XEN_EINVAL, "a frame not set up");
  t.end();
});

test("pvh: XENMEM_add_to_physmap places grant frames (growing the table) and refuses what Xen refuses; HVMOP_get_param reads the toolstack's values; PV-only calls fail", (t) => {
  const { hv, v, call } = fakeGuest({ mode: "pvh" });
  const place = (space: number, idx: number, gpfn: number, dom = E.DOMID_SELF) => {
    v().setUint16(ARG + MEM.XEN_ADD_TO_PHYSMAP_DOMID, dom, true);
    v().setUint32(ARG + MEM.XEN_ADD_TO_PHYSMAP_SPACE, space, true);
    v().setBigUint64(ARG + MEM.XEN_ADD_TO_PHYSMAP_IDX, BigInt(idx), true);
    v().setBigUint64(ARG + MEM.XEN_ADD_TO_PHYSMAP_GPFN, BigInt(gpfn), true);
    return call(XEN.HYPERVISOR_memory_op, MEM.XENMEM_add_to_physmap, ARG);
  };
  hv.grants.writeEntry(3, { flags: G.GTF_permit_access, domid: 0, frame: 0x1234 });
  t.equal(place(MEM.XENMAPSPACE_grant_table, 0, TABLE >> 12), 0, "frame 0 placed");
  t.equal(v().getUint32(TABLE + 3 * 8 + G.GRANT_ENTRY_V1_FRAME, true), 0x1234, "its contents appear at the guest frame");
  t.equal(place(MEM.XENMAPSPACE_grant_table, 3, (TABLE >> 12) + 3), 0, "frame 3 placed");
  t.equal(hv.grants.nrFrames, 4, "the table grew to frame 3");
  t.equal(hv.grants.frameAddress(3), TABLE + 0x3000);
  t.equal(place(MEM.XENMAPSPACE_grant_table, 32, (TABLE >> 12) + 4), -XEN.XEN_EINVAL, "past max_nr_frames");
  t.equal(place(MEM.XENMAPSPACE_grant_table, 1, 0), -XEN.XEN_EINVAL, "guest frame 0");
  t.equal(place(MEM.XENMAPSPACE_grant_table, 1, 64 * 16), -XEN.XEN_EINVAL, "outside wasm memory");
  t.equal(place(MEM.XENMAPSPACE_grant_table, 1, 0x50, 0), -XEN.XEN_EPERM, "another domain's physmap");
  t.equal(place(MEM.XENMAPSPACE_shared_info, 0, hv.sharedInfo >> 12), 0, "shared_info again where it is");
  t.equal(place(MEM.XENMAPSPACE_shared_info, 0, 0x50), -XEN.XEN_EINVAL, "the sim cannot move shared_info");
  t.equal(place(7, 0, 0x50), -XEN.XEN_EINVAL, "an unknown space");
  t.equal(call(XEN.HYPERVISOR_memory_op, 99, ARG), -XEN.XEN_ENOSYS, "other memory ops");

  const param = (index: number, dom = E.DOMID_SELF) => {
    v().setUint16(ARG + HVM.XEN_HVM_PARAM_DOMID, dom, true);
    v().setUint32(ARG + HVM.XEN_HVM_PARAM_INDEX, index, true);
    v().setBigUint64(ARG + HVM.XEN_HVM_PARAM_VALUE, 0n, true);
    const rc = call(XEN.HYPERVISOR_hvm_op, HVM.HVMOP_get_param, ARG);
    return rc < 0 ? rc : Number(v().getBigUint64(ARG + HVM.XEN_HVM_PARAM_VALUE, true));
  };
  hv.hvmParams.set(HVM.HVM_PARAM_CONSOLE_PFN, 0xfefffn);
  t.equal(param(HVM.HVM_PARAM_CONSOLE_PFN), 0xfefff, "a parameter the toolstack set");
  t.equal(param(HVM.HVM_PARAM_STORE_PFN), -XEN.XEN_EINVAL, "one it did not");
  t.equal(param(HVM.HVM_PARAM_CONSOLE_PFN, 0), -XEN.XEN_EPERM, "another domain's");
  t.equal(call(XEN.HYPERVISOR_hvm_op, HVM.HVMOP_set_param, ARG), -XEN.XEN_ENOSYS, "set_param is not offered");
  t.equal(call(XEN.HYPERVISOR_update_va_mapping, TABLE, 0x63, 2), -XEN.XEN_ENOSYS, "update_va_mapping: PV only");

  const pv = fakeGuest();
  t.equal(pv.call(XEN.HYPERVISOR_memory_op, MEM.XENMEM_add_to_physmap, ARG), -XEN.XEN_EINVAL, "PV: add_to_physmap refused");
  t.equal(pv.call(XEN.HYPERVISOR_hvm_op, HVM.HVMOP_get_param, ARG), -XEN.XEN_EINVAL, "PV: no HVM params");
  t.end();
});

test("grants: dom0 maps a granted page; GTF_reading/GTF_writing show in the guest's entry while mapped", (t) => {
  const { dom0, v, grant, flags } = withGrantTable();
  grant(8, 0, DATA_PFN, G.GTF_permit_access);
  v().setUint32(L.pageAddress(DATA_PFN) + 100, 0xfeedbeef, true);
  const m = dom0.mapGrant(1, 8);
  t.equal(m.address, L.pageAddress(DATA_PFN), "the granted page's guest address (frame mfn -> pfn)");
  t.equal(v().getUint32(m.address + 100, true), 0xfeedbeef, "dom0 reads what the guest wrote");
  t.equal(flags(8), G.GTF_permit_access | G.GTF_reading | G.GTF_writing, "reading and writing while mapped writable");
  t.equal(dom0.activeGrantMappings(), 1);
  const r = dom0.mapGrant(1, 8, { readonly: true });
  r.unmap();
  t.equal(flags(8), G.GTF_permit_access | G.GTF_reading | G.GTF_writing, "still held by the writable mapping");
  m.unmap();
  t.equal(flags(8), G.GTF_permit_access, "flags cleared when the last mapping goes");
  t.equal(dom0.activeGrantMappings(), 0, "no mapping leaked");
  t.throws(() => m.unmap(), grantStatus(G.GNTST_bad_handle, /already unmapped/), "unmapping twice");
  const ro = dom0.mapGrant(1, 8, { readonly: true });
  t.equal(flags(8), G.GTF_permit_access | G.GTF_reading, "a read-only mapping sets GTF_reading only");
  ro.unmap();
  t.end();
});

test("grants: a read-only grant refuses writable access", (t) => {
  const { dom0, grant, flags } = withGrantTable();
  grant(9, 0, DATA_PFN, G.GTF_permit_access | G.GTF_readonly);
  t.throws(() => dom0.mapGrant(1, 9), grantStatus(G.GNTST_general_error, /read-only/));
  t.throws(() => dom0.copyToGrant(1, 9, 0, new Uint8Array([1])), grantStatus(G.GNTST_general_error, /read-only/));
  t.equal(flags(9), G.GTF_permit_access | G.GTF_readonly, "a refused map leaves no flags behind");
  const m = dom0.mapGrant(1, 9, { readonly: true });
  t.throws(() => dom0.mapGrant(1, 9), grantStatus(G.GNTST_general_error, /read-only/), "nor while mapped read-only");
  m.unmap();
  t.equal(dom0.activeGrantMappings(), 0);
  t.end();
});

test("grants: wrong domain, bad refs, revoked entries and bad frames are refused with Xen's status", (t) => {
  const { dom0, grant, flags, hv, v } = withGrantTable(1);
  grant(10, 5, DATA_PFN, G.GTF_permit_access);
  t.throws(() => dom0.mapGrant(1, 10), grantStatus(G.GNTST_general_error, /granted to domain 5, not 0/), "granted to another domain");
  t.throws(() => dom0.mapGrant(2, 10), grantStatus(G.GNTST_bad_domain, /no grant table for domain 2/), "no such domain");
  t.throws(() => dom0.mapGrant(1, 512), grantStatus(G.GNTST_bad_gntref, /out of range \(512 entries\)/), "ref past the table");
  t.throws(() => dom0.mapGrant(1, -1), grantStatus(G.GNTST_bad_gntref, /out of range/));
  t.throws(() => dom0.mapGrant(1, 11), grantStatus(G.GNTST_general_error, /does not permit access/), "never granted");
  grant(12, 0, DATA_PFN, G.GTF_permit_access);
  dom0.mapGrant(1, 12).unmap();
  // The guest's end_access: a cmpxchg of the flags to 0 (GTF_invalid), which succeeds once unmapped.
  v().setUint16(TABLE + 12 * 8 + G.GRANT_ENTRY_V1_FLAGS, G.GTF_invalid, true);
  t.throws(() => dom0.mapGrant(1, 12), grantStatus(G.GNTST_general_error, /revoked/), "revoked");
  t.throws(() => dom0.copyFromGrant(1, 12, 0, 4), grantStatus(G.GNTST_general_error, /revoked/), "no copies either");
  grant(13, 0, 0x5000, G.GTF_permit_access);
  t.throws(() => dom0.mapGrant(1, 13), grantStatus(G.GNTST_bad_page, /not a page of the granting domain/), "a frame beyond the guest's RAM");
  t.equal(flags(13), G.GTF_permit_access, "no flags left behind");
  t.equal(hv.grants.activeMappings(), 0);
  t.end();
});

test("grants: copies pin the page only while copying", (t) => {
  const { dom0, grant, flags, v } = withGrantTable();
  grant(14, 0, DATA_PFN, G.GTF_permit_access);
  dom0.copyToGrant(1, 14, 4090, new Uint8Array([1, 2, 3, 4, 5, 6]));
  t.deepEqual([...new Uint8Array(v().buffer, L.pageAddress(DATA_PFN) + 4090, 6)], [1, 2, 3, 4, 5, 6], "written into the guest page");
  t.deepEqual([...dom0.copyFromGrant(1, 14, 4092, 4)], [3, 4, 5, 6]);
  t.equal(flags(14), G.GTF_permit_access, "no flags left after the copies");
  t.throws(() => dom0.copyFromGrant(1, 14, 4093, 4), grantStatus(G.GNTST_bad_copy_arg, /crosses the page/));
  t.equal(dom0.activeGrantMappings(), 0, "copies are not mappings");
  t.end();
});

// ---- a real guest

for (const mode of ["pv", "pvh"] as const) test(`sim guest [${mode}]: the domain builder binds the console and xenstore ports to dom0 and seeds their grants`, async (t) => {
  const g = new SimGuest({ mode, consoleEvtchn: 7, storeEvtchn: 5 });
  await g.start(await wasmOf("examples/hello/main.ts"));
  t.deepEqual(g.hv.evtchn.channel(1, 7), { state: "interdomain", remoteDom: 0, remotePort: g.consolePort }, "console");
  t.deepEqual(g.hv.evtchn.channel(1, 5), { state: "interdomain", remoteDom: 0, remotePort: g.storePort }, "xenstore");
  // PV: machine frames; PVH: the special guest frames libxenguest uses.
  const [consoleFrame, storeFrame] = mode === "pv" ? [L.pfnToMfn(L.CONSOLE_PFN), L.pfnToMfn(L.STORE_PFN)] : [L.PVH_CONSOLE_GFN, L.PVH_STORE_GFN];
  t.deepEqual(g.hv.grants.readEntry(0), { flags: G.GTF_permit_access, domid: 0, frame: consoleFrame }, "GNTTAB_RESERVED_CONSOLE");
  t.deepEqual(g.hv.grants.readEntry(1), { flags: G.GTF_permit_access, domid: 0, frame: storeFrame }, "GNTTAB_RESERVED_XENSTORE");
  t.equal(g.frameAddress(consoleFrame), L.pageAddress(L.CONSOLE_PFN), "the console frame is seen at the console page");
  t.equal(g.xenstore.read("/local/domain/1/name"), "tsxen-sim", "the guest is introduced to xenstored");
  const console = g.dom0.mapGrant(1, 0, { readonly: true });
  t.equal(console.address, L.pageAddress(L.CONSOLE_PFN), "dom0 can map the console ring through the reserved grant");
  console.unmap();
  let storeEvents = 0;
  g.onStoreEvent(() => storeEvents++);
  const r = await g.run();
  t.equal(r.reason, "poweroff");
  t.ok(r.console.startsWith("Hello from tsxen!\n"), "xenconsoled drained the ring over the interdomain channel");
  t.ok(storeEvents >= 1, `onStoreEvent saw ${storeEvents} store events (at least the one from dom0's binding)`);
});

for (const mode of ["pv", "pvh"] as const) test(`sim guest [${mode}]: examples/selftest passes every check in virtual time, dom0 playing the real rig's part`, async (t) => {
  const g = await startedGuest("examples/selftest/main.ts", { mode });
  // tests/xen/protocol-core.test.ts's dom0: answer the ping, later ask for a poweroff.
  g.dom0.after(5n * MS, () => g.xenstore.write("/local/domain/1/data/ping", "pong"));
  g.dom0.after(2_000n * MS, () => g.xenstore.write("/local/domain/1/control/shutdown", "poweroff"));
  const start = g.clock.now();
  const r = await g.run();
  t.equal(r.reason, "poweroff");
  const lines = r.console.split("\n");
  t.deepEqual(lines.filter((l) => l.startsWith("selftest: FAIL")), [], "no check failed");
  t.ok(lines.includes("selftest: 0 failures"), "selftest: 0 failures");
  t.ok(lines.includes("selftest: ok 100 ms timer took 100 ms by the pvclock"), "timers run on the virtual clock");
  const elapsed = g.clock.now() - start;
  t.ok(elapsed >= 2_000n * MS && elapsed < 2_001n * MS, `slept until dom0's shutdown request: ${elapsed} ns of virtual time`);
  t.equal(g.dom0.activeGrantMappings(), 0);
});
