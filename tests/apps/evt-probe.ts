// Test app: offers dom0 an event channel (data/port), counts the events dom0
// sends on it, answers each with a notify, and measures timers meanwhile.
import { log, allocUnbound, register, notify, EventHandler, waitFor, Condition, monotonicNs, close } from "tsxen";
import * as xs from "tsxen/xenstore/client";

class Counter extends EventHandler {
  count: i32 = 0;
  onEvent(port: u32): void {
    this.count++;
    notify(port);
  }
}

class Three extends Condition {
  constructor(public c: Counter) { super(); }
  done(): bool { return this.c.count >= 3; }
}

export function main(): void {
  const port = allocUnbound(0);
  log("evt: port " + (port >= 0 ? "ok" : "error " + port.toString()));
  const c = new Counter();
  register(<u32>port, c);
  xs.write("data/port", port.toString());
  const t0 = monotonicNs();
  const ok = waitFor(new Three(c), 5_000_000_000);
  log("evt: " + c.count.toString() + " events " + (ok ? "received" : "timed out") + " after " + ((monotonicNs() - t0) / 1_000_000).toString() + " ms");
  log("evt: close " + close(<u32>port).toString());
}
