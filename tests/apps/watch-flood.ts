// Test app: a watch on data/flood whose handler blocks (a xenstore read per
// event) while dom0 writes thousands of keys below it. The queue of events
// waiting for the handler is bounded (xenstore/client.ts), so the heap
// stays flat, and the handler still learns of the last write: it reads
// data/flood/count until dom0's final value is there.
import { log, memoryStats, collect, waitFor, Condition } from "tsxen";
import * as xs from "tsxen/xenstore/client";
import { WatchHandler } from "tsxen/xenstore/client";

function live(): u64 {
  collect();
  return memoryStats().usedBytes >> 10;
}

class Flood extends WatchHandler {
  events: i32 = 0;
  done: bool = false;
  onWatch(path: string, token: string): void {
    this.events++;
    if (this.done) return;
    const r = xs.read("data/flood/count");
    if (r.error !== null || r.text() != "end") return;
    this.done = true;
    log("watch-flood: saw the end after " + this.events.toString() + " events (" + xs.coalescedWatchEvents.toString() + " coalesced), live " + live().toString() + " KiB");
    xs.unwatch("data/flood", "flood");
  }
}

class Ended extends Condition {
  constructor(public w: Flood) { super(); }
  done(): bool { return this.w.done; }
}

export function main(): void {
  const w = new Flood();
  const r = xs.watch("data/flood", "flood", w);
  if (r.error !== null) { log("watch-flood: watch failed: " + r.error!); return; }
  log("watch-flood: ready, live " + live().toString() + " KiB");
  waitFor(new Ended(w), 0);
}
