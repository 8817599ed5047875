// Time from Xen's pvclock (xen.h struct vcpu_time_info, in shared_info):
// monotonic system time in nanoseconds since the host booted, and the wall
// clock (shared_info wc_sec/wc_nsec = wall time at system time 0).
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

// Nanoseconds of system time. The fields are re-read until Xen's version
// counter is even (no update in progress) and unchanged across the read.
export function monotonicNs(): u64 {
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
    return sec * 1_000_000_000 + nsec + monotonicNs();
  }
}
