// A TCP connection's send and receive buffers: fixed-size byte rings made
// once per connection slot and reused, so the steady state allocates
// nothing per segment or per write.
//
// SendBuffer holds what the app wrote and the peer has not acknowledged
// yet: byte 0 is SND.UNA's. ReceiveBuffer holds what arrived and the app
// has not taken: in-order bytes first (`ready` of them, from the app's
// next byte), then room up to the buffer's end for segments that came out
// of order, stored at their place (seq - RCV.NXT past the in-order bytes)
// and tracked as at most MAX_OOO_RANGES ranges of sequence numbers
// (RFC 9293 §3.10.7.4 "segment text"; a segment that would need one more
// range is dropped, so no sender can make the list grow). The ranges also
// give the SACK blocks (RFC 2018 §4): the one holding the latest segment
// first, then the others, most recent first.
import { seqLt, seqLe, seqGt, seqGe, seqMax } from "./tcp-wire";
import { copyAndSum, copyWords, swapSum, addSums } from "./bytes";

export const MAX_OOO_RANGES: i32 = 16;

export class SendBuffer {
  buf: usize = 0;
  cap: i32 = 0;
  head: i32 = 0;     // ring index of the oldest unacknowledged byte
  len: i32 = 0;      // bytes held

  constructor(cap: i32) {
    this.cap = cap;
    this.buf = heap.alloc(<usize>cap);
  }

  reset(): void { this.head = 0; this.len = 0; }

  free(): i32 { return this.cap - this.len; }

  // Appends up to `n` bytes from `src`; returns how many fit.
  write(src: usize, n: i32): i32 {
    const take = min(n, this.cap - this.len);
    if (take <= 0) return 0;
    let tail = this.head + this.len;
    if (tail >= this.cap) tail -= this.cap;
    const first = min(take, this.cap - tail);
    memory.copy(this.buf + <usize>tail, src, <usize>first);
    if (first < take) memory.copy(this.buf, src + <usize>first, <usize>(take - first));
    this.len += take;
    return take;
  }

  // Drops the `n` oldest bytes (acknowledged).
  consume(n: i32): void {
    const k = min(n, this.len);
    this.head += k;
    if (this.head >= this.cap) this.head -= this.cap;
    this.len -= k;
  }

  // Copies `n` bytes starting `offset` bytes past the oldest into `dst`;
  // returns their one's-complement sum (bytes.ts sumFast's form).
  copyOut(offset: i32, n: i32, dst: usize): u32 {
    let at = this.head + offset;
    if (at >= this.cap) at -= this.cap;
    const first = min(n, this.cap - at);
    let sum = copyAndSum(dst, this.buf + <usize>at, first, 0);
    if (first < n) {
      const rest = copyAndSum(dst + <usize>first, this.buf, n - first, 0);
      sum = addSums(sum, first & 1 ? swapSum(rest) : rest);
    }
    return sum;
  }
}

export class ReceiveBuffer {
  buf: usize = 0;
  cap: i32 = 0;
  head: i32 = 0;     // ring index of the app's next byte
  ready: i32 = 0;    // in-order bytes the app has not taken
  // Out-of-order ranges [start, end) of sequence numbers, sorted, disjoint,
  // none touching RCV.NXT.
  count: i32 = 0;
  starts: StaticArray<u32> = new StaticArray<u32>(MAX_OOO_RANGES);
  ends: StaticArray<u32> = new StaticArray<u32>(MAX_OOO_RANGES);
  stamps: StaticArray<u32> = new StaticArray<u32>(MAX_OOO_RANGES);
  private clock: u32 = 0;
  oooBytes: i32 = 0;

  constructor(cap: i32) {
    this.cap = cap;
    this.buf = heap.alloc(<usize>cap);
  }

  reset(): void { this.head = 0; this.ready = 0; this.count = 0; this.oooBytes = 0; }

  // Room past the in-order bytes: the most the window may offer.
  space(): i32 { return this.cap - this.ready; }

  // Copies `n` bytes from `src` to `offset` bytes past the in-order data
  // (the caller has checked offset + n <= space()).
  put(offset: i32, src: usize, n: i32): void {
    let at = this.head + this.ready + offset;
    while (at >= this.cap) at -= this.cap;
    const first = min(n, this.cap - at);
    copyWords(this.buf + <usize>at, src, first);
    if (first < n) copyWords(this.buf, src + <usize>first, n - first);
  }

  // The in-order bytes arrived (after put(0, ...)).
  append(n: i32): void { this.ready += n; }

  // The app took `n` bytes.
  consume(n: i32): void {
    const k = min(n, this.ready);
    this.head += k;
    if (this.head >= this.cap) this.head -= this.cap;
    this.ready -= k;
  }

  // Where the app's next bytes are, and how many lie there contiguously.
  readAt(): usize { return this.buf + <usize>this.head; }
  readable(): i32 { return min(this.ready, this.cap - this.head); }

  // Records [start, end) as held out of order. False (nothing recorded) if
  // that needs a range more than the table has.
  addRange(start: u32, end: u32): bool {
    // Merge with every range it touches.
    let first = -1, last = -1;
    for (let i = 0; i < this.count; i++) {
      if (seqLe(this.starts[i], end) && seqLe(start, this.ends[i])) {
        if (first < 0) first = i;
        last = i;
      }
    }
    this.clock++;
    if (first >= 0) {
      const s = seqLt(this.starts[first], start) ? this.starts[first] : start;
      const e = seqMax(this.ends[last], end);
      const removed = last - first;
      this.starts[first] = s;
      this.ends[first] = e;
      this.stamps[first] = this.clock;
      for (let i = first + 1; i + removed < this.count; i++) {
        this.starts[i] = this.starts[i + removed];
        this.ends[i] = this.ends[i + removed];
        this.stamps[i] = this.stamps[i + removed];
      }
      this.count -= removed;
      this.recount();
      return true;
    }
    if (this.count == MAX_OOO_RANGES) return false;
    let at = this.count;
    while (at > 0 && seqGt(this.starts[at - 1], start)) {
      this.starts[at] = this.starts[at - 1];
      this.ends[at] = this.ends[at - 1];
      this.stamps[at] = this.stamps[at - 1];
      at--;
    }
    this.starts[at] = start;
    this.ends[at] = end;
    this.stamps[at] = this.clock;
    this.count++;
    this.recount();
    return true;
  }

  // RCV.NXT moved to `next`: ranges it reached become in-order data.
  // Returns the new RCV.NXT (past any range it joined).
  advance(next: u32): u32 {
    while (this.count > 0 && seqLe(this.starts[0], next)) {
      if (seqGt(this.ends[0], next)) {
        this.ready += <i32>(this.ends[0] - next);
        next = this.ends[0];
      }
      for (let i = 1; i < this.count; i++) {
        this.starts[i - 1] = this.starts[i];
        this.ends[i - 1] = this.ends[i];
        this.stamps[i - 1] = this.stamps[i];
      }
      this.count--;
    }
    this.recount();
    return next;
  }

  private recount(): void {
    let n = 0;
    for (let i = 0; i < this.count; i++) n += <i32>(this.ends[i] - this.starts[i]);
    this.oooBytes = n;
  }

  // Up to `max` SACK blocks into starts/ends, most recent first; returns how many.
  sackBlocks(outStarts: StaticArray<u32>, outEnds: StaticArray<u32>, max: i32): i32 {
    let n = 0;
    let after: u32 = 0xffffffff; // stamps below this one are still to pick
    while (n < max) {
      let best = -1;
      for (let i = 0; i < this.count; i++) {
        if (this.stamps[i] < after && (best < 0 || this.stamps[i] > this.stamps[best])) best = i;
      }
      if (best < 0) break;
      outStarts[n] = this.starts[best];
      outEnds[n] = this.ends[best];
      after = this.stamps[best];
      n++;
    }
    return n;
  }

  // Whether [start, end) is already held, in order or not (a duplicate).
  holds(next: u32, start: u32, end: u32): bool {
    if (seqLe(end, next)) return true;
    for (let i = 0; i < this.count; i++) if (seqLe(this.starts[i], start) && seqGe(this.ends[i], end)) return true;
    return false;
  }
}
