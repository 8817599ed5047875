// Test app: reads data/probe-0 .. data/probe-5 and reports each outcome,
// then the client's view of the connection. The sim test answers with a
// xenstored that misbehaves on purpose (tests/sim/xenstore-client.test.ts).
import { log } from "tsxen";
import * as xs from "tsxen/xenstore/client";
import { WatchHandler } from "tsxen/xenstore/client";

class Counting extends WatchHandler {
  events: i32 = 0;
  onWatch(path: string, token: string): void { this.events++; }
}

export function main(): void {
  const w = new Counting();
  xs.watchAsync("data/watched", "probe-watch", w);
  for (let i = 0; i < 6; i++) {
    const r = xs.read("data/probe-" + i.toString());
    log("probe " + i.toString() + ": " + (r.error !== null ? "error " + r.error! : "value " + r.text()));
  }
  const why = xs.connectionError();
  log("probe: connection " + (why !== null ? why! : "ok"));
  log("probe: dropped replies " + xs.droppedReplies.toString() + ", malformed watch events " + xs.malformedWatchEvents.toString() + ", watch events " + w.events.toString());
}
