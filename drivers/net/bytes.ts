// Network byte order (big-endian) loads and stores, and the Internet
// checksum (RFC 1071) used by IPv4, ICMP and UDP.
export function load16(at: usize): u32 { return (<u32>load<u8>(at) << 8) | <u32>load<u8>(at + 1); }
export function load32(at: usize): u32 { return (load16(at) << 16) | load16(at + 2); }
export function store16(at: usize, v: u32): void { store<u8>(at, <u8>(v >> 8)); store<u8>(at + 1, <u8>v); }
export function store32(at: usize, v: u32): void { store16(at, v >> 16); store16(at + 2, v & 0xffff); }

// One's-complement sum of `len` bytes, folded into `sum` (not inverted).
export function sum16(at: usize, len: i32, sum: u32): u32 {
  let s: u64 = sum;
  let i = 0;
  for (; i + 1 < len; i += 2) s += load16(at + <usize>i);
  if (i < len) s += <u64>load<u8>(at + <usize>i) << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return <u32>s;
}

// The checksum field value for data whose folded sum is `sum`.
export function finish(sum: u32): u32 {
  return ~sum & 0xffff;
}

export function ipString(ip: u32): string {
  return (ip >> 24).toString() + "." + ((ip >> 16) & 255).toString() + "." + ((ip >> 8) & 255).toString() + "." + (ip & 255).toString();
}

// "10.0.0.2" -> 0x0a000002; 0 if malformed.
export function parseIp(text: string): u32 {
  const parts = text.trim().split(".");
  if (parts.length != 4) return 0;
  let ip: u32 = 0;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (p.length == 0 || p.length > 3) return 0;
    let v: u32 = 0;
    for (let j = 0; j < p.length; j++) {
      const c = p.charCodeAt(j);
      if (c < 48 || c > 57) return 0;
      v = v * 10 + <u32>(c - 48);
    }
    if (v > 255) return 0;
    ip = (ip << 8) | v;
  }
  return ip;
}

// The same one's-complement sum as sum16, eight bytes per step: the words
// are summed as little-endian (the sum does not depend on byte order, only
// its final byte swap does, RFC 1071 §2(B)) into 64 bits and folded at the
// end. For TCP payloads and large datagrams; `sum` is a big-endian partial
// sum (e.g. a pseudo-header's) as sum16 returns it.
export function sumFast(at: usize, len: i32, sum: u32): u32 {
  let s: u64 = 0;
  let p = at;
  let n = len;
  while (n >= 32) {
    const a = load<u64>(p), b = load<u64>(p, 8), c = load<u64>(p, 16), d = load<u64>(p, 24);
    s += (a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) + (b >> 32) + (c & 0xffffffff) + (c >> 32) + (d & 0xffffffff) + (d >> 32);
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    const w = load<u64>(p);
    s += (w & 0xffffffff) + (w >> 32);
    p += 8;
    n -= 8;
  }
  if (n >= 4) { s += <u64>load<u32>(p); p += 4; n -= 4; }
  if (n >= 2) { s += <u64>load<u16>(p); p += 2; n -= 2; }
  if (n > 0) s += <u64>load<u8>(p);
  return addSums(foldSwapped(s), sum);
}

// A 64-bit sum of little-endian words folded to 16 bits and byte-swapped:
// the big-endian partial sum sum16 would have made of the same bytes.
// @ts-ignore: decorator (asc inlines it; TypeScript allows none on a function)
@inline function foldSwapped(s: u64): u32 {
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffffffff) + (s >> 32);
  let r = <u32>s;
  r = (r & 0xffff) + (r >> 16);
  r = (r & 0xffff) + (r >> 16);
  return ((r & 0xff) << 8) | (r >> 8);
}

// Adds two partial sums (as sum16 returns them).
export function addSums(a: u32, b: u32): u32 {
  let r = a + b;
  r = (r & 0xffff) + (r >> 16);
  return (r & 0xffff) + (r >> 16);
}

// The pseudo-header sum of TCP and UDP (RFC 793 §3.1, RFC 768).
export function pseudoHeaderSum(src: u32, dst: u32, proto: u32, len: i32): u32 {
  let s: u32 = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + <u32>len;
  s = (s & 0xffff) + (s >> 16);
  return (s & 0xffff) + (s >> 16);
}

// Copies `len` bytes from `src` to `dst` and returns their one's-complement
// sum folded into `sum` (as sumFast), in one pass of 8-byte words: building
// a segment reads its payload once. (A word loop is also what an emulated
// CPU runs fastest; `rep movsb` costs it a step per byte.)
export function copyAndSum(dst: usize, src: usize, len: i32, sum: u32): u32 {
  let s: u64 = 0;
  let n = len;
  let d = dst, p = src;
  while (n >= 16) {
    const a = load<u64>(p), b = load<u64>(p, 8);
    store<u64>(d, a);
    store<u64>(d, b, 8);
    s += (a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) + (b >> 32);
    p += 16; d += 16; n -= 16;
  }
  if (n >= 8) { const a = load<u64>(p); store<u64>(d, a); s += (a & 0xffffffff) + (a >> 32); p += 8; d += 8; n -= 8; }
  if (n >= 4) { const a = load<u32>(p); store<u32>(d, a); s += <u64>a; p += 4; d += 4; n -= 4; }
  if (n >= 2) { const a = load<u16>(p); store<u16>(d, a); s += <u64>a; p += 2; d += 2; n -= 2; }
  if (n > 0) { const a = load<u8>(p); store<u8>(d, a); s += <u64>a; }
  return addSums(foldSwapped(s), sum);
}

// A partial sum of bytes that sit at an odd offset in the summed data
// (RFC 1071 §2(B): swapping the bytes of a sum swaps its byte order).
export function swapSum(sum: u32): u32 {
  return ((sum & 0xff) << 8) | (sum >> 8);
}

// Copies `len` bytes in 8-byte words (see copyAndSum).
export function copyWords(dst: usize, src: usize, len: i32): void {
  let n = len;
  let d = dst, p = src;
  while (n >= 16) {
    store<u64>(d, load<u64>(p));
    store<u64>(d, load<u64>(p, 8), 8);
    p += 16; d += 16; n -= 16;
  }
  while (n >= 4) { store<u32>(d, load<u32>(p)); p += 4; d += 4; n -= 4; }
  while (n > 0) { store<u8>(d, load<u8>(p)); p++; d++; n--; }
}
