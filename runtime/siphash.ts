// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
// 2012): a keyed hash of short inputs, for values a network peer must not
// predict or steer (TCP initial sequence numbers per RFC 6528, SYN
// cookies, timestamp offsets, hash-table seeds). The key is 128 bits (k0,
// k1); the input is read as little-endian 64-bit words, as the reference.

// @ts-ignore: decorator (asc inlines it; TypeScript allows none on a function)
@inline function rotl(x: u64, b: u64): u64 { return (x << b) | (x >> (64 - b)); }

// One SipHash state. Compress words with add(), then finish().
export class SipHash {
  v0: u64 = 0;
  v1: u64 = 0;
  v2: u64 = 0;
  v3: u64 = 0;
  bytes: u64 = 0;

  begin(k0: u64, k1: u64): SipHash {
    this.v0 = k0 ^ 0x736f6d6570736575;
    this.v1 = k1 ^ 0x646f72616e646f6d;
    this.v2 = k0 ^ 0x6c7967656e657261;
    this.v3 = k1 ^ 0x7465646279746573;
    this.bytes = 0;
    return this;
  }

  @inline private round(): void {
    this.v0 += this.v1; this.v1 = rotl(this.v1, 13); this.v1 ^= this.v0; this.v0 = rotl(this.v0, 32);
    this.v2 += this.v3; this.v3 = rotl(this.v3, 16); this.v3 ^= this.v2;
    this.v0 += this.v3; this.v3 = rotl(this.v3, 21); this.v3 ^= this.v0;
    this.v2 += this.v1; this.v1 = rotl(this.v1, 17); this.v1 ^= this.v2; this.v2 = rotl(this.v2, 32);
  }

  // Compresses one full 8-byte word of input.
  add(m: u64): SipHash {
    this.v3 ^= m;
    this.round();
    this.round();
    this.v0 ^= m;
    this.bytes += 8;
    return this;
  }

  // Ends the input (whose length is a multiple of 8: what add() took) and
  // returns the 64-bit hash.
  finish(): u64 {
    return this.finishWith(0);
  }

  // The final block: the length's low byte on top of the 0..7 bytes left
  // over (`tail`, little-endian).
  finishWith(tail: u64): u64 {
    const b: u64 = (this.bytes << 56) | tail;
    this.v3 ^= b;
    this.round();
    this.round();
    this.v0 ^= b;
    this.v2 ^= 0xff;
    this.round();
    this.round();
    this.round();
    this.round();
    return this.v0 ^ this.v1 ^ this.v2 ^ this.v3;
  }
}

// SipHash-2-4 of `len` bytes at `at` (any length, as the reference).
export function siphash(k0: u64, k1: u64, at: usize, len: i32): u64 {
  const h = scratch.begin(k0, k1);
  let i = 0;
  for (; i + 8 <= len; i += 8) h.add(load<u64>(at + <usize>i));
  let last: u64 = 0;
  for (let j = 0; i + j < len; j++) last |= <u64>load<u8>(at + <usize>(i + j)) << (<u64>j * 8);
  h.bytes = <u64>len;
  return h.finishWith(last);
}

const scratch = new SipHash();

// SipHash-2-4 of two 64-bit words (16 bytes): the hash of a connection's
// addresses and ports and a counter, without touching memory.
export function siphash2(k0: u64, k1: u64, a: u64, b: u64): u64 {
  return scratch.begin(k0, k1).add(a).add(b).finish();
}
