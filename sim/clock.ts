// The sim's virtual clock: Xen system time (ns since the host booted) that
// only moves when the sim moves it, a virtual TSC derived from it, timers on
// it, and the guest-visible copies in shared_info: struct vcpu_time_info
// (pvclock) and the wall clock (xen/include/public/xen.h, arch-x86/xen.h).
//
// Virtual time makes sim runs deterministic and fast: a guest that sleeps
// for a minute blocks in SCHEDOP_poll and the sim jumps straight to the
// deadline. Busy-waits still progress because every rdtsc costs a little time.
import * as S from "../runtime/abi/shared_info.ts";

// 2 GHz: one TSC tick is half a nanosecond, so the pvclock scale is exactly
// mul = 2^31 (0.5 in 32.32 fixed point) with shift 0.
export const TSC_HZ = 2_000_000_000n;
export const TSC_TO_SYSTEM_MUL = 0x80000000;
export const TSC_SHIFT = 0;

export interface TimerHandle {
  readonly at: bigint;
  cancel(): void;
}

interface Timer extends TimerHandle {
  seq: number;
  fire: () => void;
}

export interface ClockOptions {
  startNs?: bigint;       // system time at domain start (default 1 s: a host that just booted)
  tscOffset?: bigint;     // TSC value at system time 0; non-zero so a guest that ignores tsc_timestamp is wrong
  rdtscStepNs?: bigint;   // virtual time each rdtsc costs (default 1 µs)
  // Real time, as system time: each tick() moves the clock at least to it, so
  // a guest that talks to the outside world (tsxen sim --forward) sees time pass as it does.
  follow?: () => bigint;
}

export class VirtualClock {
  private nowNs: bigint;
  private readonly tscOffset: bigint;
  private readonly rdtscStep: bigint;
  private readonly follow: (() => bigint) | null;
  private timers: Timer[] = [];
  private seq = 0;

  constructor(opts: ClockOptions = {}) {
    this.nowNs = opts.startNs ?? 1_000_000_000n;
    this.tscOffset = opts.tscOffset ?? 0x1234_5678_9an;
    this.rdtscStep = opts.rdtscStepNs ?? 1_000n;
    this.follow = opts.follow ?? null;
  }

  now(): bigint {
    return this.nowNs;
  }

  // The TSC at the current virtual time.
  tsc(): bigint {
    return this.tscOffset + this.nowNs * (TSC_HZ / 1_000_000_000n);
  }

  // The rdtsc instruction: costs a little virtual time, so a guest spinning
  // on the clock sees it move (and due timers fire).
  rdtsc(): bigint {
    this.tick();
    return this.tsc();
  }

  // The small cost of one guest action that busy-waits (rdtsc, a yield).
  tick(): void {
    const stepped = this.nowNs + this.rdtscStep;
    const real = this.follow?.() ?? 0n;
    this.advanceTo(real > stepped ? real : stepped);
  }

  // Runs `fire` when virtual time reaches `at` (at once, on the next
  // advance, if `at` has passed). Timers due at the same time fire in the
  // order they were set.
  at(at: bigint, fire: () => void): TimerHandle {
    const timer: Timer = {
      at, fire, seq: this.seq++,
      cancel: () => {
        this.timers = this.timers.filter((t) => t !== timer);
      },
    };
    this.timers.push(timer);
    this.timers.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.seq - b.seq));
    return timer;
  }

  after(ns: bigint, fire: () => void): TimerHandle {
    return this.at(this.nowNs + ns, fire);
  }

  // The earliest pending timer's time, or null if none is set.
  nextDeadline(): bigint | null {
    return this.timers.length ? this.timers[0].at : null;
  }

  pendingTimers(): number {
    return this.timers.length;
  }

  advance(ns: bigint): void {
    this.advanceTo(this.nowNs + ns);
  }

  // Moves time forward to `t` (never back), firing each due timer with the
  // clock set to that timer's time, so a callback reads the time it was due.
  advanceTo(t: bigint): void {
    for (;;) {
      const next = this.timers[0];
      if (!next || next.at > t) break;
      this.timers.shift();
      if (next.at > this.nowNs) this.nowNs = next.at;
      next.fire();
    }
    if (t > this.nowNs) this.nowNs = t;
  }
}

// Writes vcpu_info.time the way Xen's update_vcpu_system_time does: version
// odd while the fields change, even again after, so a reader that sees the
// same even version before and after its reads has a consistent snapshot.
// `behindNs`: how far the guest's system time is behind the sim's clock (a
// domain restored on a host that booted later: see Hypervisor.newDomain).
export function writeVcpuTime(view: DataView, at: number, clock: VirtualClock, behindNs = 0n): void {
  const version = view.getUint32(at + S.VCPU_TIME_VERSION, true);
  view.setUint32(at + S.VCPU_TIME_VERSION, (version + 1) | 1, true);
  view.setBigUint64(at + S.VCPU_TIME_TSC_TIMESTAMP, clock.tsc(), true);
  view.setBigUint64(at + S.VCPU_TIME_SYSTEM_TIME, clock.now() - behindNs, true);
  view.setUint32(at + S.VCPU_TIME_TSC_TO_SYSTEM_MUL, TSC_TO_SYSTEM_MUL, true);
  view.setInt8(at + S.VCPU_TIME_TSC_SHIFT, TSC_SHIFT);
  view.setUint8(at + S.VCPU_TIME_FLAGS, 0);
  view.setUint32(at + S.VCPU_TIME_VERSION, ((version + 1) | 1) + 1, true);
}

// System time from a pvclock snapshot and a TSC value: the guest's formula
// (runtime/time.ts), for tests and diagnostics.
export function pvclockNs(view: DataView, at: number, tsc: bigint): bigint {
  const stamp = view.getBigUint64(at + S.VCPU_TIME_TSC_TIMESTAMP, true);
  const system = view.getBigUint64(at + S.VCPU_TIME_SYSTEM_TIME, true);
  const mul = BigInt(view.getUint32(at + S.VCPU_TIME_TSC_TO_SYSTEM_MUL, true));
  const shift = view.getInt8(at + S.VCPU_TIME_TSC_SHIFT);
  let delta = BigInt.asUintN(64, tsc - stamp);
  delta = shift >= 0 ? BigInt.asUintN(64, delta << BigInt(shift)) : delta >> BigInt(-shift);
  return system + ((delta * mul) >> 32n);
}

// shared_info's wall clock: the Unix time at system time 0, under
// wc_version (odd while updating), as Xen's update_domain_wallclock_time.
export function writeWallClock(view: DataView, sharedInfo: number, clock: VirtualClock, unixNs: bigint, behindNs = 0n): void {
  const at = unixNs - (clock.now() - behindNs);
  const sec = at / 1_000_000_000n;
  const version = view.getUint32(sharedInfo + S.SHARED_INFO_WC_VERSION, true);
  view.setUint32(sharedInfo + S.SHARED_INFO_WC_VERSION, (version + 1) | 1, true);
  view.setUint32(sharedInfo + S.SHARED_INFO_WC_SEC, Number(BigInt.asUintN(32, sec)), true);
  view.setUint32(sharedInfo + S.SHARED_INFO_WC_NSEC, Number(at % 1_000_000_000n), true);
  view.setUint32(sharedInfo + S.SHARED_INFO_WC_SEC_HI, Number(sec >> 32n), true);
  view.setUint32(sharedInfo + S.SHARED_INFO_WC_VERSION, ((version + 1) | 1) + 1, true);
}
