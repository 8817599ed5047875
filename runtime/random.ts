// Random numbers for the runtime and apps: a ChaCha20 keystream (RFC 8439
// §2.3, the block function used as a generator) keyed once, at first use,
// from the best source the machine has:
//  - "rdrand": the CPU's RDRAND instruction, when CPUID says the CPU has it
//    (Xen passes the flag through to PV and PVH guests; the native host
//    function retries a failing RDRAND 10 times, as Intel advises), else
//  - "jitter": the low bits of the time-stamp counter measured across 512
//    hypercalls (xen_version) and pvclock reads, mixed with SipHash. This is
//    weak on an idle or emulated host: it is a fallback, said so by
//    randomSource() and logged once.
// The sim provides RDRAND from a seeded generator (reproducible runs) or,
// with `rdrand: false`, none (its TSC is virtual, so "jitter" there is
// deterministic too).
//
// Users: TCP initial sequence numbers and SYN cookie secrets (RFC 6528),
// DHCP transaction ids, ephemeral ports. Not a replacement for a vetted
// CSPRNG library in an app that handles long-term keys.
import { rdrand, rdtsc, hypercall } from "./host";
import { monotonicNs, wallClockNs } from "./time";
import { SipHash } from "./siphash";
import { HYPERVISOR_xen_version } from "./abi/xen";

// ChaCha20 state (16 words) and one 64-byte output block.
const state = new StaticArray<u32>(16);
const block = new StaticArray<u32>(16);
let used: i32 = 16;          // words of `block` already handed out
let source: string = "";     // "" until seeded
const word = memory.data(8);

// @ts-ignore: decorator (asc inlines it; TypeScript allows none on a function)
@inline function rotl32(x: u32, n: u32): u32 { return (x << n) | (x >> (32 - n)); }

// @ts-ignore: decorator (asc inlines it; TypeScript allows none on a function)
@inline function quarter(x: StaticArray<u32>, a: i32, b: i32, c: i32, d: i32): void {
  unchecked(x[a] += x[b]); unchecked(x[d] = rotl32(x[d] ^ x[a], 16));
  unchecked(x[c] += x[d]); unchecked(x[b] = rotl32(x[b] ^ x[c], 12));
  unchecked(x[a] += x[b]); unchecked(x[d] = rotl32(x[d] ^ x[a], 8));
  unchecked(x[c] += x[d]); unchecked(x[b] = rotl32(x[b] ^ x[c], 7));
}

// The ChaCha20 block function (RFC 8439 §2.3) of `input` into `out`.
export function chachaBlock(input: StaticArray<u32>, out: StaticArray<u32>): void {
  for (let i = 0; i < 16; i++) unchecked(out[i] = input[i]);
  for (let i = 0; i < 10; i++) {
    quarter(out, 0, 4, 8, 12); quarter(out, 1, 5, 9, 13); quarter(out, 2, 6, 10, 14); quarter(out, 3, 7, 11, 15);
    quarter(out, 0, 5, 10, 15); quarter(out, 1, 6, 11, 12); quarter(out, 2, 7, 8, 13); quarter(out, 3, 4, 9, 14);
  }
  for (let i = 0; i < 16; i++) unchecked(out[i] += input[i]);
}

// 64 bits from the jitter of timed hypercalls and clock reads.
function jitter64(h: SipHash, salt: u64): u64 {
  h.begin(salt, wallClockNs());
  let last = rdtsc();
  for (let i = 0; i < 512; i++) {
    hypercall(HYPERVISOR_xen_version, 0, 0, 0, 0, 0);
    const now = rdtsc();
    h.add((now - last) ^ (monotonicNs() << 32));
    last = now;
  }
  return h.finish();
}

function seed(): void {
  // Key words 4..11 (256 bits), nonce words 13..15; the counter (12) starts at 0.
  state[0] = 0x61707865; state[1] = 0x3320646e; state[2] = 0x79622d32; state[3] = 0x6b206574;
  let fromCpu = true;
  for (let i = 0; i < 6 && fromCpu; i++) {
    if (rdrand(word) == 0) { fromCpu = false; break; }
    const v = load<u64>(word);
    if (i < 4) { state[4 + i * 2] = <u32>v; state[5 + i * 2] = <u32>(v >> 32); }
    else if (i == 4) { state[13] = <u32>v; state[14] = <u32>(v >> 32); }
    else state[15] = <u32>v;
  }
  if (fromCpu) {
    source = "rdrand";
  } else {
    const h = new SipHash();
    for (let i = 0; i < 6; i++) {
      const v = jitter64(h, <u64>i);
      if (i < 4) { state[4 + i * 2] = <u32>v; state[5 + i * 2] = <u32>(v >> 32); }
      else if (i == 4) { state[13] = <u32>v; state[14] = <u32>(v >> 32); }
      else state[15] = <u32>v;
    }
    source = "jitter";
  }
  state[12] = 0;
  store<u64>(word, 0);
}

function next32(): u32 {
  if (used == 16) {
    if (source.length == 0) seed();
    chachaBlock(state, block);
    state[12]++;
    if (state[12] == 0) state[13]++;
    used = 0;
  }
  return unchecked(block[used++]);
}

// A uniformly random 32-bit / 64-bit number.
export function random32(): u32 {
  return next32();
}

export function random64(): u64 {
  return (<u64>next32() << 32) | <u64>next32();
}

// A random number in [0, n) (n > 0), without modulo bias.
export function randomBelow(n: u32): u32 {
  if (n <= 1) return 0;
  const limit = <u32>(0x100000000 - (0x100000000 % <u64>n));
  let r = next32();
  while (limit != 0 && r >= limit) r = next32();
  return r % n;
}

// Fills `len` bytes at `at`.
export function randomBytes(at: usize, len: i32): void {
  let i = 0;
  for (; i + 4 <= len; i += 4) store<u32>(at + <usize>i, next32());
  if (i < len) {
    const r = next32();
    for (let j = 0; i < len; i++, j++) store<u8>(at + <usize>i, <u8>(r >> (<u32>j * 8)));
  }
}

// Where the key came from: "rdrand" or "jitter" (seeds the generator if it
// was not yet).
export function randomSource(): string {
  if (source.length == 0) seed();
  return source;
}
