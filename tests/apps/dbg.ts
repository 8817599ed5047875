// Test app for `tsxen sim --inspect` (tests/sim/inspect.test.ts): a loop
// with a local to read at a breakpoint.
import { log } from "tsxen";

function sumTo(n: i32): i32 {
  let total = 0;
  for (let i = 1; i <= n; i++) {
    total += i * i; // breakpoint here
  }
  return total;
}

export function main(): void {
  log("dbg: sum of squares " + sumTo(10).toString());
}
