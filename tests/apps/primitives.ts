// Checks the runtime's keyed hash, random generator and fast checksum
// against their references and prints one line per check:
//   "primitives: <name> ok" or "primitives: <name> FAILED <detail>".
import { log, random32, random64, randomSource } from "tsxen";
import { siphash, siphash2 } from "tsxen/runtime/siphash";
import { chachaBlock } from "tsxen/runtime/random";
import { sum16, sumFast, copyAndSum, swapSum, addSums } from "tsxen/drivers/net/bytes";

function check(name: string, ok: bool, detail: string = ""): void {
  log("primitives: " + name + (ok ? " ok" : " FAILED " + detail));
}

export function main(): void {
  // SipHash-2-4 reference vectors (key 00..0f, message 00..n-1).
  const k0: u64 = 0x0706050403020100, k1: u64 = 0x0f0e0d0c0b0a0908;
  const msg = heap.alloc(16);
  for (let i = 0; i < 16; i++) store<u8>(msg + <usize>i, <u8>i);
  check("siphash empty", siphash(k0, k1, msg, 0) == 0x726fdb47dd0e0e31, siphash(k0, k1, msg, 0).toString(16));
  check("siphash 8", siphash(k0, k1, msg, 8) == 0x93f5f5799a932462, siphash(k0, k1, msg, 8).toString(16));
  check("siphash 15", siphash(k0, k1, msg, 15) == 0xa129ca6149be45e5, siphash(k0, k1, msg, 15).toString(16));
  check("siphash2 = siphash of 16 bytes", siphash2(k0, k1, load<u64>(msg), load<u64>(msg + 8)) == 0x3f2acc7f57c29bdb);

  // ChaCha20 block function, RFC 8439 §2.3.2.
  const input = new StaticArray<u32>(16), out = new StaticArray<u32>(16);
  input[0] = 0x61707865; input[1] = 0x3320646e; input[2] = 0x79622d32; input[3] = 0x6b206574;
  for (let i = 0; i < 8; i++) input[4 + i] = <u32>(i * 4) | (<u32>(i * 4 + 1) << 8) | (<u32>(i * 4 + 2) << 16) | (<u32>(i * 4 + 3) << 24);
  input[12] = 1; input[13] = 0x09000000; input[14] = 0x4a000000; input[15] = 0;
  chachaBlock(input, out);
  check("chacha20 block", out[0] == 0xe4e7f110 && out[1] == 0x15593bd1 && out[4] == 0xc7f4d1c7 && out[15] == 0x4e3c50a2, out[0].toString(16));

  // sumFast == sum16 at every alignment and length up to 300 bytes.
  const buf = heap.alloc(400);
  for (let i = 0; i < 400; i++) store<u8>(buf + <usize>i, <u8>(random32()));
  let bad = 0;
  for (let off = 0; off < 8; off++) {
    for (let len = 0; len <= 300; len++) {
      const init = random32() & 0xffff;
      if (sumFast(buf + <usize>off, len, init) != sum16(buf + <usize>off, len, init)) bad++;
    }
  }
  check("sumFast", bad == 0, bad.toString() + " mismatches");

  // copyAndSum: the same sum, the bytes copied; and a buffer summed in two
  // pieces split at any point (odd splits swapped) sums as a whole.
  const dst = heap.alloc(400);
  bad = 0;
  for (let off = 0; off < 8; off++) {
    for (let len = 0; len <= 300; len++) {
      memory.fill(dst, 0, 400);
      const s1 = copyAndSum(dst + <usize>((off * 3) & 7), buf + <usize>off, len, 0);
      if (s1 != sumFast(buf + <usize>off, len, 0) || memory.compare(dst + <usize>((off * 3) & 7), buf + <usize>off, <usize>len) != 0) bad++;
      const split = len / 3 + (len & 1);
      const a = copyAndSum(dst, buf + <usize>off, split, 0), b = copyAndSum(dst + <usize>split, buf + <usize>(off + split), len - split, 0);
      if (addSums(a, split & 1 ? swapSum(b) : b) != sumFast(buf + <usize>off, len, 0)) bad++;
    }
  }
  check("copyAndSum", bad == 0, bad.toString() + " mismatches");

  // The generator: its source, and no repeats or stuck bits in 1000 draws.
  const first = random64();
  let or: u64 = 0, and: u64 = ~0;
  let repeats = 0;
  for (let i = 0; i < 1000; i++) {
    const r = random64();
    or |= r; and &= r;
    if (r == first) repeats++;
  }
  check("random bits", or == ~(<u64>0) && and == 0 && repeats == 0);
  log("primitives: random source " + randomSource());
}
