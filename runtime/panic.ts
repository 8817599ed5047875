// Fatal errors in the runtime's own invariants: print and crash the domain.
// Never used for bad values from a peer (a backend, xenstore): those are
// reported as errors and the device is marked broken instead.
import { hostPanic } from "./host";

export function panic(msg: string): void {
  const len = String.UTF8.byteLength(msg);
  const buf = heap.alloc(len);
  String.UTF8.encodeUnsafe(changetype<usize>(msg), msg.length, buf);
  hostPanic(buf, <i32>len);
}

// AssemblyScript's abort (failed assert, bounds error, …), installed with
// `asc --use abort=…` so the module imports nothing but "xen".
export function tsxenAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = message !== null ? message : "abort";
  if (fileName !== null) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  panic(text);
  unreachable();
}
