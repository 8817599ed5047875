// Test app (tests/fuzz/xenstore.ts): six reads and a watch against a
// xenstored that mangles its replies. Each read says whether the client
// already called the connection dead when it was made (then it must fail
// with EIO at once).
import { log } from "tsxen";
import * as xs from "tsxen/xenstore/client";
import { WatchHandler } from "tsxen/xenstore/client";

class Counting extends WatchHandler {
  events: i32 = 0;
  onWatch(path: string, token: string): void { this.events++; }
}

export function main(): void {
  xs.watchAsync("data/watched", "probe-watch", new Counting());
  for (let i = 0; i < 6; i++) {
    const deadBefore = xs.connectionError() !== null;
    const r = xs.read("data/probe-" + i.toString());
    log("xs-fuzz: read " + i.toString() + ": " + (r.error !== null ? "error " + r.error! : "value " + r.text()) + (deadBefore ? " (dead before)" : ""));
  }
}
