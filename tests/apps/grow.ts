// Test app: grows wasm memory 1 MiB (16 pages) at a time until memory.grow
// refuses, writes to every page it got, and reports how far it went and
// the guest's RAM. Under Xen the limit is the mapped RAM (runtime/native/
// wasm_rt.c); the grown memory must be usable and read back zeroed.
import { log, startInfo } from "tsxen";

export function main(): void {
  const before = memory.size();
  let pages = before;
  let nonZero = 0;
  for (;;) {
    const old = memory.grow(16);
    if (old < 0) break;
    const start = <usize>old << 16;
    for (let at = start; at < start + (16 << 16); at += 4096) {
      if (load<u32>(at) != 0) nonZero++;
      store<u32>(at, 0xa5a5a5a5);
    }
    pages = memory.size();
  }
  log("grow: " + (<u32>((pages - before) >> 4)).toString() + " MiB grown, memory " + (<u32>(pages >> 4)).toString() +
      " MiB, RAM " + (<u32>(startInfo().ramBytes >> 20)).toString() + " MiB, " + nonZero.toString() + " pages not zeroed");
}
