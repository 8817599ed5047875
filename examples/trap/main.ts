// examples/trap: misbehaves on purpose, to show that a tsxen guest reports a
// fault and crashes cleanly instead of hanging. The xl `extra=` command line
// picks the fault: "oob" (default) reads past the end of wasm memory,
// "null" reads address 0 (unmapped page 0), "div0" divides by zero,
// "abort" fails an assertion, "hang" spins forever.
import { log, startInfo } from "tsxen";

export function main(): void {
  const what = startInfo().cmdLine.trim();
  log("trap example: about to fault (" + (what.length > 0 ? what : "oob") + ")");
  if (what == "null") {
    log("read: " + load<u32>(0).toString());
  } else if (what == "div0") {
    let zero = <i32>startInfo().nrPages >> 30; // 0, but not a constant the compiler can fold
    log("quotient: " + (100 / zero).toString());
  } else if (what == "hang") {
    for (;;) {} // never returns: shows how a hung guest is reported
  } else if (what == "abort") {
    assert(startInfo().nrPages == 0, "the guest has RAM");
  } else {
    const past = <usize>memory.size() << 16;
    log("read: " + load<u32>(past + 16).toString());
  }
  log("trap example: survived a fault (this line should not appear)");
}
