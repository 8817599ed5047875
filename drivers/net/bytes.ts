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
