// Time from Xen's pvclock (xen.h struct vcpu_time_info, in shared_info):
// monotonic system time in nanoseconds since the host booted, and the wall
// clock (shared_info wc_sec/wc_nsec = wall time at system time 0).
// After a restore or a migration Xen's system time counts from another
// host's boot: monotonicNs() adds an offset chosen at resume (clockResumed)
// so that it goes on from where it was, advanced by the wall-clock time the
// domain spent suspended; never backwards.
import { rdtsc, sharedInfoAddress } from "./host";
import * as S from "./abi/shared_info";

// (a * b) >> 32 for a 64-bit a and a 32-bit b, without overflow.
function mulShift32(a: u64, b: u32): u64 {
  return (a >> 32) * <u64>b + (((a & 0xffffffff) * <u64>b) >> 32);
}

// TSC ticks to nanoseconds: shifted by tsc_shift, then times tsc_to_system_mul / 2^32.
function scaleTsc(delta: u64, mul: u32, shift: i8): u64 {
  const d = shift >= 0 ? delta << <u64>shift : delta >> <u64>(-shift);
  return mulShift32(d, mul);
}

// Added to Xen's system time (two's complement: it may be "negative").
let offsetNs: u64 = 0;

// Nanoseconds since boot, never going backwards, also across a resume.
export function monotonicNs(): u64 {
  return xenSystemNs() + offsetNs;
}

// A monotonicNs() deadline as Xen's system time (SCHEDOP_poll's timeout);
// one already past becomes 1 (0 would mean "no timeout").
export function toXenSystemNs(deadlineNs: u64): u64 {
  const t = deadlineNs - offsetNs;
  return <i64>t <= 0 ? 1 : t;
}

// Called after the domain resumed in a new domain: `beforeNs` was
// monotonicNs() and `wallBeforeNs` wallClockNs() just before the suspend.
// The clock continues from beforeNs plus the wall-clock time that passed
// (0 if the new host's wall clock is behind).
export function clockResumed(beforeNs: u64, wallBeforeNs: u64): void {
  const wallNow = wallClockNs();
  const slept = wallNow > wallBeforeNs ? wallNow - wallBeforeNs : 0;
  offsetNs = beforeNs + slept - xenSystemNs();
}

// Nanoseconds of Xen's system time. The fields are re-read until Xen's
// version counter is even (no update in progress) and unchanged across the read.
function xenSystemNs(): u64 {
  const t = sharedInfoAddress() + S.VCPU_INFO_TIME;
  for (;;) {
    const version = load<u32>(t + S.VCPU_TIME_VERSION);
    if (version & 1) continue;
    const tscStamp = load<u64>(t + S.VCPU_TIME_TSC_TIMESTAMP);
    const system = load<u64>(t + S.VCPU_TIME_SYSTEM_TIME);
    const mul = load<u32>(t + S.VCPU_TIME_TSC_TO_SYSTEM_MUL);
    const shift = load<i8>(t + S.VCPU_TIME_TSC_SHIFT);
    const tsc = rdtsc();
    if (load<u32>(t + S.VCPU_TIME_VERSION) != version) continue;
    return system + scaleTsc(tsc - tscStamp, mul, shift);
  }
}

// A TSC difference in nanoseconds, by the current pvclock scale.
export function tscToNs(delta: u64): u64 {
  const t = sharedInfoAddress() + S.VCPU_INFO_TIME;
  return scaleTsc(delta, load<u32>(t + S.VCPU_TIME_TSC_TO_SYSTEM_MUL), load<i8>(t + S.VCPU_TIME_TSC_SHIFT));
}

// Nanoseconds since the Unix epoch.
export function wallClockNs(): u64 {
  const si = sharedInfoAddress();
  for (;;) {
    const version = load<u32>(si + S.SHARED_INFO_WC_VERSION);
    if (version & 1) continue;
    const sec = (<u64>load<u32>(si + S.SHARED_INFO_WC_SEC_HI) << 32) | <u64>load<u32>(si + S.SHARED_INFO_WC_SEC);
    const nsec = <u64>load<u32>(si + S.SHARED_INFO_WC_NSEC);
    if (load<u32>(si + S.SHARED_INFO_WC_VERSION) != version) continue;
    return sec * 1_000_000_000 + nsec + xenSystemNs();
  }
}
