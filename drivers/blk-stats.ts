// A disk's counters as dom0 sees them (runtime/stats.ts): under
// data/tsxen/vbd/<id>/. Registered by the Blkfront constructor (one object
// per device, across reconnects).
import { StatsSource } from "../runtime/stats";
import { Blkfront } from "./blkfront";

export class BlkfrontStatsSource extends StatsSource {
  constructor(public dev: Blkfront) { super(); }
  path(): string { return "vbd/" + this.dev.info.id; }
  names(): string[] {
    return ["requests", "errors", "read-bytes", "write-bytes", "ring-requests", "connected", "connects", "broken"];
  }
  read(v: StaticArray<u64>): void {
    const s = this.dev.stats;
    v[0] = s.requests;
    v[1] = s.errors;
    v[2] = s.bytesRead;
    v[3] = s.bytesWritten;
    v[4] = s.ringRequests;
    v[5] = this.dev.connected ? 1 : 0;
    v[6] = <u64>this.dev.connects;
    v[7] = this.dev.broken !== null ? 1 : 0;
  }
}
