// Memory for apps: what the heap holds (memoryStats) and a full collection
// on demand (collect). The heap is AssemblyScript's: a TLSF allocator
// (node_modules/assemblyscript/std/assembly/rt/tlsf.ts) under a collector,
// `incremental` by default (ARCHITECTURE.md, "Memory model"). Its blocks
// are counted by walking them: TLSF keeps its root right after
// __heap_base, then its blocks one after another up to a zero-sized tail,
// each with a 4-byte header holding its size and a FREE bit. The constants
// below are that layout for wasm32 in AssemblyScript 0.28.
import { startInfo } from "./start_info";
import { hypercall, HOSTOP_MEMORY_LIMIT } from "./host";

// tlsf.ts: AL_MASK, BLOCK_OVERHEAD, TAGS_MASK, FREE, ROOT_SIZE and HL_END
// (where the root keeps its tail) for FL_BITS 23 and SL_BITS 4.
const AL_MASK: usize = 15;
const BLOCK_OVERHEAD: usize = 4;
const TAGS_MASK: usize = 3;
const FREE: usize = 1;
const ROOT_SIZE: usize = 1572;
const TAIL_AT: usize = 1568;

const STUB: i32 = 0; // ASC_RUNTIME for asc's stub runtime

export class MemoryStats {
  ramBytes: u64 = 0;         // the guest's RAM (start_info)
  memoryBytes: u64 = 0;      // the wasm memory now (static data, stack and heap: what the app has taken from RAM)
  memoryLimitBytes: u64 = 0; // what the wasm memory can grow to (the RAM mapped for it)
  heapBytes: u64 = 0;        // the allocator's part of it
  usedBytes: u64 = 0;        // in blocks handed out (live objects, and garbage not yet collected)
  freeBytes: u64 = 0;        // in free blocks
  peakUsedBytes: u64 = 0;    // the most usedBytes seen (by memoryStats and the runtime's collections)
  collections: u64 = 0;      // collect() calls so far (the collector also runs on its own as the app allocates)
}

let peak: u64 = 0;
let collections: u64 = 0;
// The last walk's results.
let walkedUsed: u64 = 0;
let walkedFree: u64 = 0;

function tlsfRoot(): usize {
  return (__heap_base + AL_MASK) & ~AL_MASK;
}

// Walks the allocator's blocks (walkedUsed, walkedFree; the peak). Not
// under the stub runtime, which has no blocks to walk (a bump pointer).
function walk(): void {
  walkedUsed = walkedFree = 0;
  if (ASC_RUNTIME == STUB) return;
  const root = tlsfRoot();
  const tail = load<usize>(root + TAIL_AT);
  if (tail == 0) return; // nothing allocated yet
  let block = ((root + ROOT_SIZE + BLOCK_OVERHEAD + AL_MASK) & ~AL_MASK) - BLOCK_OVERHEAD;
  let used: u64 = 0, free: u64 = 0;
  while (block < tail) {
    const info = load<usize>(block);
    const size = info & ~TAGS_MASK;
    if (info & FREE) free += <u64>(size + BLOCK_OVERHEAD);
    else used += <u64>(size + BLOCK_OVERHEAD);
    block += BLOCK_OVERHEAD + size;
  }
  walkedUsed = used;
  walkedFree = free;
  if (used > peak) peak = used;
}

// For runtime/stats.ts, which must not allocate: a walk, then its results.
export function walkHeap(): void { walk(); }
export function walkedUsedBytes(): u64 { return walkedUsed; }
export function walkedHeapBytes(): u64 { return walkedUsed + walkedFree; }
export function peakUsedBytes(): u64 { return peak; }

// What the heap holds now. Walks every block: for monitoring, not for a
// hot path.
export function memoryStats(): MemoryStats {
  const s = new MemoryStats();
  s.ramBytes = startInfo().ramBytes;
  s.memoryBytes = <u64>memory.size() << 16;
  s.memoryLimitBytes = <u64>hypercall(HOSTOP_MEMORY_LIMIT, 0, 0, 0, 0, 0) << 16;
  walk();
  s.usedBytes = walkedUsed;
  s.freeBytes = walkedFree;
  s.heapBytes = walkedUsed + walkedFree;
  s.peakUsedBytes = peak;
  s.collections = collections;
  return s;
}

// A full collection now (nothing under the stub runtime). Safe anywhere
// with the incremental collector, which finds every live reference on its
// shadow stack.
export function collect(): void {
  // @ts-ignore: asc's builtin, missing from its .d.ts (an app's tsc would fail)
  __collect();
  collections++;
  walk();
}
