// bench/compute/csum.ts: the compute kernel of `make bench` (AssemblyScript).
// Each pass copies a `len`-byte buffer and computes the Internet checksum
// (RFC 1071, 16-bit one's complement) of the copy; returns the last one.
// Compiled to wasm, then run natively via wasm2c + gcc (tsxen's pipeline)
// and under Node's V8; bench/compute/ref.c is the same algorithm in C.

export function alloc(len: usize): usize {
  return heap.alloc(len);
}

export function run(src: usize, dst: usize, len: usize, passes: i32): u32 {
  let result: u32 = 0;
  for (let p = 0; p < passes; p++) {
    memory.copy(dst, src, len);
    let sum: u64 = 0;
    for (let i: usize = 0; i < len; i += 8) {
      const w = load<u64>(dst + i);
      sum += (w & 0xffffffff) + (w >> 32);
    }
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffffffff) + (sum >> 32);
    let s32 = <u32>sum;
    s32 = (s32 & 0xffff) + (s32 >> 16);
    s32 = (s32 & 0xffff) + (s32 >> 16);
    result = ~s32 & 0xffff;
    store<u8>(src + (<usize>p % len), <u8>result);   // keep passes dependent
  }
  return result;
}
