// TCP's wire format: the header (RFC 9293 §3.1), sequence-number
// arithmetic modulo 2^32 (§3.4), and the options we use: MSS (§3.2),
// window scale and timestamps (RFC 7323 §2.2, §3.2), SACK-permitted and
// SACK blocks (RFC 2018 §2, §3). A received segment is parsed into a
// Segment the caller keeps and reuses (nothing is allocated per segment);
// options are read leniently, as RFC 9293 §3.1 asks: unknown ones are
// skipped by their length, and a malformed length ends the option list
// (the segment itself is still taken).
import { load16, load32, store16, store32 } from "./bytes";

export const TCP_HDR: i32 = 20;
export const TCP_MAX_OPTIONS: i32 = 40;

export const FIN: u32 = 0x01;
export const SYN: u32 = 0x02;
export const RST: u32 = 0x04;
export const PSH: u32 = 0x08;
export const ACK: u32 = 0x10;
export const URG: u32 = 0x20;

const OPT_END = 0, OPT_NOP = 1, OPT_MSS = 2, OPT_WSCALE = 3, OPT_SACK_OK = 4, OPT_SACK = 5, OPT_TS = 8;
export const MAX_WSCALE: i32 = 14;          // RFC 7323 §2.3
export const MAX_SACK_BLOCKS: i32 = 4;

// Sequence numbers compared modulo 2^32 (§3.4). (The @ts-ignore lines are
// for editors: TypeScript allows no decorator on a function; asc inlines.)
// @ts-ignore: decorator
@inline export function seqLt(a: u32, b: u32): bool { return <i32>(a - b) < 0; }
// @ts-ignore: decorator
@inline export function seqLe(a: u32, b: u32): bool { return <i32>(a - b) <= 0; }
// @ts-ignore: decorator
@inline export function seqGt(a: u32, b: u32): bool { return <i32>(a - b) > 0; }
// @ts-ignore: decorator
@inline export function seqGe(a: u32, b: u32): bool { return <i32>(a - b) >= 0; }
// @ts-ignore: decorator
@inline export function seqMax(a: u32, b: u32): u32 { return seqGt(a, b) ? a : b; }

// One received segment, parsed.
export class Segment {
  src: u32 = 0;
  dst: u32 = 0;
  srcPort: u16 = 0;
  dstPort: u16 = 0;
  seq: u32 = 0;
  ack: u32 = 0;
  flags: u32 = 0;
  window: u32 = 0;          // as sent (not scaled)
  data: usize = 0;          // the payload, valid while the frame is
  len: i32 = 0;
  // Options (what was present).
  mss: i32 = 0;             // 0: none
  wscale: i32 = -1;         // -1: none
  sackOk: bool = false;
  hasTs: bool = false;
  tsVal: u32 = 0;
  tsEcr: u32 = 0;
  sackCount: i32 = 0;
  sackStart: StaticArray<u32> = new StaticArray<u32>(MAX_SACK_BLOCKS);
  sackEnd: StaticArray<u32> = new StaticArray<u32>(MAX_SACK_BLOCKS);

  // Reads the segment at `at` (`len` bytes: header, options, payload).
  // False if the header itself is malformed (too short, a data offset
  // outside the segment).
  parse(src: u32, dst: u32, at: usize, len: i32): bool {
    if (len < TCP_HDR) return false;
    const off = <i32>(load<u8>(at + 12) >> 4) * 4;
    if (off < TCP_HDR || off > len) return false;
    this.src = src;
    this.dst = dst;
    this.srcPort = <u16>load16(at);
    this.dstPort = <u16>load16(at + 2);
    this.seq = load32(at + 4);
    this.ack = load32(at + 8);
    this.flags = <u32>load<u8>(at + 13);
    this.window = load16(at + 14);
    this.data = at + <usize>off;
    this.len = len - off;
    this.mss = 0;
    this.wscale = -1;
    this.sackOk = false;
    this.hasTs = false;
    this.sackCount = 0;
    this.options(at + TCP_HDR, off - TCP_HDR);
    return true;
  }

  private options(at: usize, len: i32): void {
    let i = 0;
    while (i < len) {
      const kind = <i32>load<u8>(at + <usize>i);
      if (kind == OPT_END) return;
      if (kind == OPT_NOP) { i++; continue; }
      if (i + 1 >= len) return;
      const n = <i32>load<u8>(at + <usize>i + 1);
      if (n < 2 || i + n > len) return;
      const v = at + <usize>i + 2;
      if (kind == OPT_MSS && n == 4) this.mss = <i32>load16(v);
      else if (kind == OPT_WSCALE && n == 3) this.wscale = min(<i32>load<u8>(v), MAX_WSCALE);
      else if (kind == OPT_SACK_OK && n == 2) this.sackOk = true;
      else if (kind == OPT_TS && n == 10) { this.hasTs = true; this.tsVal = load32(v); this.tsEcr = load32(v + 4); }
      else if (kind == OPT_SACK && n >= 10 && ((n - 2) & 7) == 0) {
        const blocks = min((n - 2) >> 3, MAX_SACK_BLOCKS);
        for (let b = 0; b < blocks; b++) {
          this.sackStart[b] = load32(v + <usize>(b * 8));
          this.sackEnd[b] = load32(v + <usize>(b * 8 + 4));
        }
        this.sackCount = blocks;
      }
      i += n;
    }
  }

  // Sequence space the segment takes: its data, plus one each for SYN and FIN.
  seqLen(): u32 {
    return <u32>this.len + (this.flags & SYN ? 1 : 0) + (this.flags & FIN ? 1 : 0);
  }
}

// Writes the fixed header at `t` (checksum and urgent pointer zero).
export function writeHeader(t: usize, srcPort: u16, dstPort: u16, seq: u32, ack: u32, flags: u32, window: u32, optLen: i32): void {
  store16(t, srcPort);
  store16(t + 2, dstPort);
  store32(t + 4, seq);
  store32(t + 8, ack);
  store<u8>(t + 12, <u8>(((TCP_HDR + optLen) >> 2) << 4));
  store<u8>(t + 13, <u8>flags);
  store16(t + 14, window);
  store32(t + 16, 0);
}

// The options of a SYN or SYN-ACK at `o`: MSS, SACK-permitted, timestamps
// and window scale, laid out as Linux does (NOPs keep them aligned).
// `wscale` < 0 or `ts` false leave those out. Returns their length.
export function writeSynOptions(o: usize, mss: i32, wscale: i32, sackOk: bool, ts: bool, tsVal: u32, tsEcr: u32): i32 {
  store<u8>(o, OPT_MSS); store<u8>(o + 1, 4); store16(o + 2, <u32>mss);
  let n = 4;
  if (ts) {
    if (sackOk) { store<u8>(o + 4, OPT_SACK_OK); store<u8>(o + 5, 2); }
    else { store<u8>(o + 4, OPT_NOP); store<u8>(o + 5, OPT_NOP); }
    store<u8>(o + 6, OPT_TS); store<u8>(o + 7, 10); store32(o + 8, tsVal); store32(o + 12, tsEcr);
    n = 16;
  } else if (sackOk) {
    store<u8>(o + 4, OPT_NOP); store<u8>(o + 5, OPT_NOP); store<u8>(o + 6, OPT_SACK_OK); store<u8>(o + 7, 2);
    n = 8;
  }
  if (wscale >= 0) {
    const w = o + <usize>n;
    store<u8>(w, OPT_NOP); store<u8>(w + 1, OPT_WSCALE); store<u8>(w + 2, 3); store<u8>(w + 3, <u8>wscale);
    n += 4;
  }
  return n;
}

// NOP, NOP, timestamps: 12 bytes.
export function writeTsOption(o: usize, tsVal: u32, tsEcr: u32): i32 {
  store<u8>(o, OPT_NOP); store<u8>(o + 1, OPT_NOP); store<u8>(o + 2, OPT_TS); store<u8>(o + 3, 10);
  store32(o + 4, tsVal);
  store32(o + 8, tsEcr);
  return 12;
}

// NOP, NOP, SACK with `count` blocks (from `starts`/`ends`): 4 + 8 * count bytes.
export function writeSackOption(o: usize, starts: StaticArray<u32>, ends: StaticArray<u32>, count: i32): i32 {
  store<u8>(o, OPT_NOP); store<u8>(o + 1, OPT_NOP); store<u8>(o + 2, OPT_SACK); store<u8>(o + 3, <u8>(2 + 8 * count));
  for (let i = 0; i < count; i++) {
    store32(o + 4 + <usize>(i * 8), starts[i]);
    store32(o + 8 + <usize>(i * 8), ends[i]);
  }
  return 4 + 8 * count;
}
