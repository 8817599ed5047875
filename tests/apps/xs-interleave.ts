// Test app: a request larger than the xenstore ring (a 1900-byte value; the ring holds 1024),
// written while a timer that fires during it makes a request of its own.
// Both must reach xenstored whole and in order. Then the app waits (up to
// 10 s) for `xl shutdown`, which must still reach it.
import { log, setTimer, Timer, TimerHandler, exit } from "tsxen";
import * as xs from "tsxen/xenstore/client";

class Meanwhile extends TimerHandler {
  error: string | null = "not run";
  onTimer(t: Timer): void {
    this.error = xs.write("data/small", "from the timer").error;
  }
}

class GiveUp extends TimerHandler {
  onTimer(t: Timer): void {
    log("xs-interleave: no shutdown request within 10 s");
    exit(3);
  }
}

export function main(): void {
  const meanwhile = new Meanwhile();
  setTimer(0, meanwhile);
  const big = "x".repeat(1900);
  const w = xs.write("data/big", big);
  log("xs-interleave: big write " + (w.error !== null ? w.error! : "ok") + ", timer's write " + (meanwhile.error !== null ? meanwhile.error! : "ok"));
  const back = xs.read("data/big");
  const small = xs.read("data/small");
  log("xs-interleave: read back " + (back.error === null && back.text() == big ? "intact" : "wrong") + ", small " + (small.error === null ? small.text() : small.error!));
  const why = xs.connectionError();
  log("xs-interleave: connection " + (why !== null ? why! : "ok"));
  setTimer(10_000_000_000, new GiveUp());
}
