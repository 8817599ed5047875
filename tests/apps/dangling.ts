// Test app: the bug stress mode exists to catch. It keeps only the raw
// address of a managed buffer (dataStart) and reads it after a hypercall;
// normally the bytes are still there, in stress mode the buffer has been
// collected and filled with garbage (tests/sim/stress.test.ts).
import { log } from "tsxen";

function rawBuffer(): usize {
  const a = new Uint8Array(64);
  a.fill(7);
  return a.dataStart; // the object itself is garbage once this returns
}

export function main(): void {
  const p = rawBuffer();
  log("dangling: a hypercall (this console write) in between");
  log("dangling: byte " + load<u8>(p + 10).toString());
}
