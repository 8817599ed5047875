// Reads the checkpoints tests/apps/soak.ts prints ("soak strings: 200/1000
// heap 23 KiB, live 9 KiB, memory …") and judges whether the heap stayed
// flat after warm-up: shared by the sim, real-Xen and `make soak` runs.
export interface SoakPoint {
  done: number;
  heapKiB: number;   // the allocator's pool (only grows)
  liveKiB: number;   // in use after a full collection
}

export interface SoakReport {
  points: SoakPoint[];
  finished: boolean;       // "soak <what>: done" was printed
  warm: SoakPoint | null;  // the first checkpoint after warm-up (10 % of the run)
  last: SoakPoint | null;
  heapGrowthKiB: number;   // last.heap - warm.heap
  liveGrowthKiB: number;   // last.live - warm.live
}

// Margins for "flat": the pool may still settle by a few pages, and what is
// live may differ by what the run's position holds (a few short strings).
export const HEAP_MARGIN_KIB = 64;
export const LIVE_MARGIN_KIB = 4;

export function soakReport(console: string, what: string): SoakReport {
  const re = new RegExp(`^soak ${what}: (\\d+)/\\d+ heap (\\d+) KiB, live (\\d+) KiB`);
  const points: SoakPoint[] = [];
  for (const line of console.split("\n")) {
    const m = re.exec(line);
    if (m) points.push({ done: Number(m[1]), heapKiB: Number(m[2]), liveKiB: Number(m[3]) });
  }
  const warm = points.find((p) => p.done > 0) ?? null;
  const last = points.length > 0 ? points[points.length - 1] : null;
  return {
    points, warm, last,
    finished: console.split("\n").some((l) => l.startsWith(`soak ${what}: done`)),
    heapGrowthKiB: warm && last ? last.heapKiB - warm.heapKiB : NaN,
    liveGrowthKiB: warm && last ? last.liveKiB - warm.liveKiB : NaN,
  };
}

export function describeSoak(r: SoakReport): string {
  if (!r.warm || !r.last) return "no checkpoints";
  const peak = Math.max(...r.points.map((p) => p.heapKiB));
  return `${r.last.done} iterations; heap ${r.warm.heapKiB} KiB after warm-up, ${r.last.heapKiB} KiB at the end (peak ${peak} KiB); live ${r.warm.liveKiB} -> ${r.last.liveKiB} KiB`;
}
