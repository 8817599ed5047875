// Shared by the fuzz campaigns (tests/fuzz/): a seeded generator, the seed
// of each case (so any case can be replayed alone), and the results.

// mulberry32: small, fast, reproducible.
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255);
    return out;
  }

  mac(): string {
    return [...this.bytes(6)].map((b) => b.toString(16).padStart(2, "0")).join(":");
  }

  ip(): string {
    return [...this.bytes(4)].join(".");
  }
}

// The seed of case `n` of a campaign seeded `seed`.
export function caseSeed(seed: number, n: number): number {
  let h = (seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export interface Failure {
  campaign: string;
  seed: number;
  caseNo: number;
  why: string;
}

export interface CampaignResult {
  name: string;
  cases: number;
  failures: Failure[];
}

// The command that replays one failed case alone.
export function replayCommand(f: Failure): string {
  return `node --import ./tools/ts-register.mjs tests/fuzz/run.ts --replay ${f.campaign}:${f.seed}:${f.caseNo}`;
}
