// Test app: soak runs that must leave the heap flat (the memory issue).
// The command line picks one: `strings N` builds a ~1 KiB string per
// iteration (what a handler formatting a reply or a log line does),
// `xenstore N` does N write/read/rm cycles on data/soak, `timers N` re-arms
// one timer N times, each from its own handler. Ten times along the way it
// prints the heap (the allocator's pool, which only grows) and what is live
// after a full collection (`nocollect` after N: no collect(), so the
// heap shows what the runtime alone does); tests/sim/soak.test.ts and the real-Xen tests
// compare the last against the first after warm-up.
import { log, memoryStats, collect, armTimer, Timer, TimerHandler, runLoop, stopLoop } from "tsxen";
import { appArgs } from "./probe-args";
import * as xs from "tsxen/xenstore/client";

let what = "";
let total: u32 = 0;
let checksum: u64 = 0;
let collecting = true; // `nocollect` after N: checkpoints only look

function checkpoint(done: u32): void {
  if (collecting) collect();
  const s = memoryStats();
  log("soak " + what + ": " + done.toString() + "/" + total.toString() + " heap " + (s.heapBytes >> 10).toString() + " KiB, live " +
      (s.usedBytes >> 10).toString() + " KiB, memory " + (s.memoryBytes >> 10).toString() + " KiB of " + (s.memoryLimitBytes >> 10).toString() + " KiB");
}

function every(): u32 {
  return total >= 10 ? total / 10 : 1;
}

// A reply line of about 1 KiB (512 UTF-16 code units), from pieces.
function reply(i: u32): string {
  let s = "HTTP/1.1 200 OK request " + i.toString() + ":";
  for (let k: u32 = 0; s.length < 500; k++) s += " field-" + k.toString() + "=" + (i ^ k).toString(16);
  return s;
}

function strings(): void {
  for (let i: u32 = 1; i <= total; i++) {
    checksum += <u64>reply(i).length;
    if (i % every() == 0) checkpoint(i);
  }
}

function store(): void {
  for (let i: u32 = 1; i <= total; i++) {
    const v = "value-" + i.toString();
    const w = xs.write("data/soak", v);
    const r = xs.read("data/soak");
    const d = xs.rm("data/soak");
    if (w.error !== null || r.error !== null || d.error !== null || r.text() != v) {
      log("soak xenstore: cycle " + i.toString() + " failed");
      return;
    }
    if (i % every() == 0) checkpoint(i);
  }
}

class Rearm extends TimerHandler {
  count: u32 = 0;
  onTimer(t: Timer): void {
    this.count++;
    if (this.count % every() == 0) checkpoint(this.count);
    if (this.count < total) armTimer(t, 1000);
    else stopLoop();
  }
}

export function main(): void {
  const words = appArgs().trim().split(" ");
  what = words.length > 0 ? words[0] : "";
  total = words.length > 1 ? <u32>parseInt(words[1]) : 0;
  collecting = !(words.length > 2 && words[2] == "nocollect");
  if (total == 0) { log("soak: usage: strings|xenstore|timers N [nocollect]"); return; }
  checkpoint(0);
  if (what == "strings") strings();
  else if (what == "xenstore") store();
  else if (what == "timers") {
    armTimer(new Timer(new Rearm()), 1000);
    runLoop();
  } else { log("soak: unknown run " + what); return; }
  log("soak " + what + ": done (" + checksum.toString() + ")");
}
