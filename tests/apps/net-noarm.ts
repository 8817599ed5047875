// Test app: a frontend that forgets to re-arm rsp_event. It connects vif 0
// with netfront, then replaces netfront's event handler with one that only
// counts events and never consumes a response, so rsp_event stays where the
// connect left it: a backend that honours the hold-off rule (io/ring.h
// RING_PUSH_RESPONSES_AND_CHECK_NOTIFY) notifies once and then never again.
import { log, onShutdownRequest, ShutdownHandler, EventHandler, register, unregister } from "tsxen";
import { connectAll } from "tsxen/drivers/netfront";

class Counter extends EventHandler {
  n: i32 = 0;
  onEvent(port: u32): void { this.n++; }
}

const counter = new Counter();

class Report extends ShutdownHandler {
  onShutdown(reason: u32): void { log("noarm: events " + counter.n.toString()); }
}

export function main(): void {
  onShutdownRequest(new Report());
  const devices = connectAll();
  if (devices.length == 0 || devices[0].broken !== null) { log("noarm: no usable vif"); return; }
  const dev = devices[0];
  // One queue, one channel (the sim's vif offers neither more queues nor split channels here).
  unregister(dev.port);
  register(dev.port, counter);
  log("noarm: ready");
}
