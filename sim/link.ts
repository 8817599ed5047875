// A seeded model of the wire between a sim vif and the hosts behind it:
// each frame, in each direction, may be lost, duplicated or held back
// (reordered past later frames), then arrives after the propagation delay
// and its serialisation time at the link's rate. Towards the guest, frames
// wait in a bounded queue while the guest has no RX buffer (as netback's
// own queue does) and go in as soon as it posts some (the vif's kick);
// beyond the queue they are dropped. The same seed gives the same fates,
// so a failing run replays.
import type { Dom0 } from "./hypervisor.ts";
import type { Vif } from "./netback.ts";

export interface LinkOptions {
  seed?: number;
  loss?: number;             // probability a frame is lost (each direction)
  duplicate?: number;        // probability a frame arrives twice
  reorder?: number;          // probability a frame is held back by reorderNs
  reorderNs?: bigint;        // default 3 ms
  delayNs?: bigint;          // one-way propagation delay (default 100 µs)
  bitsPerSecond?: number;    // serialisation rate (default 1 Gbit/s; 0: instant)
  queueFrames?: number;      // frames held for the guest while it has no RX buffer (default 256)
  // Only frames `affects` accepts are subject to loss, duplication and
  // reordering (default: all). E.g. only one flow's segments.
  affects?: (frame: Uint8Array, toGuest: boolean) => boolean;
}

export interface LinkStats {
  toGuest: number;
  fromGuest: number;
  lost: number;
  duplicated: number;
  reordered: number;
  queueDrops: number;        // towards the guest: the queue was full
  maxQueued: number;
}

// xorshift32: the link's fate generator.
class Rng {
  private s: number;
  constructor(seed: number) { this.s = (seed >>> 0) || 0x9e3779b9; }
  next(): number {
    let x = this.s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.s = x;
    return x / 0x100000000;
  }
}

export class Link {
  readonly stats: LinkStats = { toGuest: 0, fromGuest: 0, lost: 0, duplicated: 0, reordered: 0, queueDrops: 0, maxQueued: 0 };
  private readonly rng: Rng;
  private readonly o: Required<Omit<LinkOptions, "affects">> & Pick<LinkOptions, "affects">;
  private freeAt = [0n, 0n];          // when each direction's wire is free again (0: to the guest, 1: from it)
  private queue: Uint8Array[] = [];
  private receivers: ((frame: Uint8Array) => void)[] = [];

  constructor(private readonly dom0: Dom0, private readonly vif: Vif, opts: LinkOptions = {}, private readonly now: () => bigint) {
    this.o = {
      seed: 1, loss: 0, duplicate: 0, reorder: 0, reorderNs: 3_000_000n, delayNs: 100_000n, bitsPerSecond: 1e9, queueFrames: 256,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as Required<Omit<LinkOptions, "affects">> & Pick<LinkOptions, "affects">;
    this.rng = new Rng(this.o.seed);
    vif.deliver = (frame) => this.carry(frame, false);
    vif.rxKick = () => this.drain();
  }

  // Hosts on the wire: each gets every frame the guest sends (after the link).
  attach(receiver: (frame: Uint8Array) => void): void {
    this.receivers.push(receiver);
  }

  // A frame from a host towards the guest.
  send(frame: Uint8Array): void {
    this.carry(frame, true);
  }

  // Frames waiting for the guest's RX buffers.
  queued(): number {
    return this.queue.length;
  }

  private carry(frame: Uint8Array, toGuest: boolean): void {
    const o = this.o;
    const subject = !o.affects || o.affects(frame, toGuest);
    if (toGuest) this.stats.toGuest++;
    else this.stats.fromGuest++;
    if (subject && o.loss > 0 && this.rng.next() < o.loss) { this.stats.lost++; return; }
    const copies = subject && o.duplicate > 0 && this.rng.next() < o.duplicate ? 2 : 1;
    if (copies > 1) this.stats.duplicated++;
    const dir = toGuest ? 0 : 1;
    for (let i = 0; i < copies; i++) {
      const now = this.now();
      const serialise = o.bitsPerSecond > 0 ? BigInt(Math.ceil(((frame.length + 24) * 8 * 1e9) / o.bitsPerSecond)) : 0n;
      const start = this.freeAt[dir] > now ? this.freeAt[dir] : now;
      this.freeAt[dir] = start + serialise;
      let at = start + serialise + o.delayNs;
      if (subject && o.reorder > 0 && this.rng.next() < o.reorder) {
        this.stats.reordered++;
        at += o.reorderNs;
      }
      const copy = frame;
      this.dom0.after(at - now, () => (toGuest ? this.arrive(copy) : this.deliver(copy)));
    }
  }

  private deliver(frame: Uint8Array): void {
    for (const r of this.receivers) r(frame);
  }

  private arrive(frame: Uint8Array): void {
    if (this.queue.length >= this.o.queueFrames) { this.stats.queueDrops++; return; }
    this.queue.push(frame);
    if (this.queue.length > this.stats.maxQueued) this.stats.maxQueued = this.queue.length;
    this.drain();
  }

  private drain(): void {
    while (this.queue.length > 0 && this.vif.hasRxRoom(this.queue[0])) this.vif.inject(this.queue.shift()!);
  }
}
