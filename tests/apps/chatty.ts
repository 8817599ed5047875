// Test app: writes far more than the 2 KiB console ring holds, so the ring
// wraps many times and fills whenever the backend is slow. Line i is
// "line <i> " padded with '.' to 60 bytes; the last line reports drops.
import { log, consoleDroppedBytes } from "tsxen";

export function main(): void {
  for (let i = 0; i < 300; i++) {
    let line = "line " + i.toString() + " ";
    while (line.length < 59) line += ".";
    log(line);
  }
  log("dropped " + consoleDroppedBytes().toString());
}
