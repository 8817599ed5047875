// Test app: the memory API. Prints memoryStats() around holding and then
// dropping ~1 MiB of strings, with a collect() in between.
import { log, memoryStats, collect, MemoryStats } from "tsxen";

function show(what: string, s: MemoryStats): void {
  log("memory-probe: " + what + ": ram " + s.ramBytes.toString() + " memory " + s.memoryBytes.toString() + " limit " + s.memoryLimitBytes.toString() +
      " heap " + s.heapBytes.toString() + " used " + s.usedBytes.toString() + " free " + s.freeBytes.toString() + " peak " + s.peakUsedBytes.toString() +
      " collections " + s.collections.toString());
}

let held: Array<string> | null = null;

function hold(): void {
  const a = new Array<string>();
  for (let i = 0; i < 1000; i++) a.push("x".repeat(500) + i.toString()); // ~1 KiB each (UTF-16)
  held = a;
}

export function main(): void {
  collect();
  show("start", memoryStats());
  hold();
  show("holding", memoryStats());
  held = null;
  collect();
  show("dropped", memoryStats());
}
