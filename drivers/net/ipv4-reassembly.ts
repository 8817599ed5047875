// IPv4 fragment reassembly (RFC 791 §3.2 "Fragmentation and Reassembly",
// with RFC 815's view of holes), bounded so no sender can make it grow:
//  - at most REASSEMBLY_SLOTS datagrams in flight (a new one evicts the
//    oldest), each of at most 65535 bytes (a fragment past that, the "ping
//    of death", drops the datagram) and MAX_FRAGMENTS fragments (tiny
//    fragments cannot pin a slot for long);
//  - a datagram not complete within REASSEMBLY_TIMEOUT_NS (30 s, as Linux's
//    ipfrag_time) is dropped;
//  - an exact duplicate fragment is ignored; a fragment that overlaps
//    another one differently drops the whole datagram (as Linux does, and
//    RFC 5722 asks for IPv6: overlapping fragments are how filters are
//    evaded);
//  - a fragment with more to follow must carry a multiple of 8 bytes, and
//    every fragment must agree on where the datagram ends.
// The buffers (64 KiB per slot) are allocated together when the first
// fragment arrives, and reused after.
import { load16, load32, store16, store32, sum16, finish } from "./bytes";

export const REASSEMBLY_SLOTS: i32 = 4;
export const MAX_FRAGMENTS: i32 = 64;
export const REASSEMBLY_TIMEOUT_NS: u64 = 30_000_000_000;
const IP_HDR: i32 = 20;
const MAX_BODY: i32 = 65535 - IP_HDR;

export class ReassemblyStats {
  fragments: u64 = 0;     // fragments taken in
  reassembled: u64 = 0;   // datagrams completed
  timedOut: u64 = 0;      // datagrams dropped incomplete after the timeout
  evicted: u64 = 0;       // dropped to make room for a newer datagram
  overlaps: u64 = 0;      // dropped for overlapping fragments
  invalid: u64 = 0;       // fragments with bad lengths or offsets (their datagram dropped)
  duplicates: u64 = 0;    // exact duplicates, ignored
}

class Slot {
  active: bool = false;
  src: u32 = 0;
  dst: u32 = 0;
  id: u32 = 0;
  proto: u32 = 0;
  born: u64 = 0;
  buf: usize = 0;           // the rebuilt datagram: a 20-byte header, then the body
  end: i32 = -1;            // body length, once the last fragment came
  received: i32 = 0;        // body bytes in
  count: i32 = 0;           // fragments in
  offs: StaticArray<i32> = new StaticArray<i32>(MAX_FRAGMENTS);
  lens: StaticArray<i32> = new StaticArray<i32>(MAX_FRAGMENTS);
}

export class Reassembly {
  slots: StaticArray<Slot> = new StaticArray<Slot>(REASSEMBLY_SLOTS);
  stats: ReassemblyStats = new ReassemblyStats();

  constructor() {
    for (let i = 0; i < REASSEMBLY_SLOTS; i++) this.slots[i] = new Slot();
  }

  // Datagrams being reassembled now.
  inFlight(): i32 {
    let n = 0;
    for (let i = 0; i < REASSEMBLY_SLOTS; i++) if (this.slots[i].active) n++;
    return n;
  }

  // Takes the fragment at `ip` (header length `hlen`, total length
  // `total`, both checked by the caller). Returns the address of the whole
  // datagram (a 20-byte header without options, then the body; valid until
  // the next call) once it is complete, else 0.
  add(ip: usize, hlen: i32, total: i32, now: u64): usize {
    this.expire(now);
    this.stats.fragments++;
    const flags = load16(ip + 6);
    const off = <i32>(flags & 0x1fff) * 8;
    const more = (flags & 0x2000) != 0;
    const len = total - hlen;
    const src = load32(ip + 12), dst = load32(ip + 16), id = load16(ip + 4), proto = <u32>load<u8>(ip + 9);
    let s = this.find(src, dst, id, proto);
    const bad = len <= 0 || (more && (len & 7) != 0) || off + len > MAX_BODY;
    if (bad) {
      this.stats.invalid++;
      if (s !== null) s.active = false;
      return 0;
    }
    if (s === null) s = this.take(src, dst, id, proto, now);
    // Duplicates and overlaps.
    for (let i = 0; i < s.count; i++) {
      const o = s.offs[i], l = s.lens[i];
      if (o == off && l == len) { this.stats.duplicates++; return 0; }
      if (off < o + l && o < off + len) { this.stats.overlaps++; s.active = false; return 0; }
    }
    const fragEnd = off + len;
    if (!more) {
      if (s.end >= 0 && s.end != fragEnd) { this.stats.invalid++; s.active = false; return 0; }
      s.end = fragEnd;
    }
    if ((s.end >= 0 && fragEnd > s.end) || s.count == MAX_FRAGMENTS) { this.stats.invalid++; s.active = false; return 0; }
    for (let i = 0; i < s.count; i++) {
      if (s.end >= 0 && s.offs[i] + s.lens[i] > s.end) { this.stats.invalid++; s.active = false; return 0; }
    }
    s.offs[s.count] = off;
    s.lens[s.count] = len;
    s.count++;
    memory.copy(s.buf + <usize>IP_HDR + <usize>off, ip + <usize>hlen, <usize>len);
    s.received += len;
    if (s.end < 0 || s.received != s.end) return 0;
    // Complete: a header for the whole datagram.
    const h = s.buf;
    store<u8>(h, 0x45);
    store<u8>(h + 1, load<u8>(ip + 1));
    store16(h + 2, <u32>(IP_HDR + s.end));
    store16(h + 4, id);
    store16(h + 6, 0);
    store<u8>(h + 8, load<u8>(ip + 8));
    store<u8>(h + 9, <u8>proto);
    store16(h + 10, 0);
    store32(h + 12, src);
    store32(h + 16, dst);
    store16(h + 10, finish(sum16(h, IP_HDR, 0)));
    s.active = false;
    this.stats.reassembled++;
    return h;
  }

  private find(src: u32, dst: u32, id: u32, proto: u32): Slot | null {
    for (let i = 0; i < REASSEMBLY_SLOTS; i++) {
      const s = this.slots[i];
      if (s.active && s.src == src && s.dst == dst && s.id == id && s.proto == proto) return s;
    }
    return null;
  }

  // A slot for a new datagram: a free one, else the oldest (its datagram is lost).
  private take(src: u32, dst: u32, id: u32, proto: u32, now: u64): Slot {
    let at = -1;
    for (let i = 0; i < REASSEMBLY_SLOTS; i++) {
      if (!this.slots[i].active) { at = i; break; }
      if (at < 0 || this.slots[i].born < this.slots[at].born) at = i;
    }
    const s = this.slots[at];
    if (s.active) this.stats.evicted++;
    if (s.buf == 0) {
      const all = heap.alloc(<usize>REASSEMBLY_SLOTS * <usize>(IP_HDR + MAX_BODY));
      for (let i = 0; i < REASSEMBLY_SLOTS; i++) this.slots[i].buf = all + <usize>i * <usize>(IP_HDR + MAX_BODY);
    }
    s.active = true;
    s.src = src; s.dst = dst; s.id = id; s.proto = proto;
    s.born = now;
    s.end = -1;
    s.received = 0;
    s.count = 0;
    return s;
  }

  private expire(now: u64): void {
    for (let i = 0; i < REASSEMBLY_SLOTS; i++) {
      const s = this.slots[i];
      if (s.active && now - s.born > REASSEMBLY_TIMEOUT_NS) { s.active = false; this.stats.timedOut++; }
    }
  }
}
