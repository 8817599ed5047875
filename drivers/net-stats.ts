// A vif's counters as dom0 sees them (runtime/stats.ts): under
// data/tsxen/vif/<id>/. Registered by the Netfront constructor (one object
// per device, across reconnects).
import { StatsSource } from "../runtime/stats";
import { Netfront } from "./netfront";

export class NetfrontStatsSource extends StatsSource {
  constructor(public dev: Netfront) { super(); }
  path(): string { return "vif/" + this.dev.info.id; }
  names(): string[] {
    return ["rx-frames", "rx-bytes", "rx-dropped", "tx-frames", "tx-bytes", "tx-dropped", "tx-errors", "connected", "connects", "broken"];
  }
  read(v: StaticArray<u64>): void {
    const s = this.dev.stats;
    v[0] = s.rxFrames;
    v[1] = s.rxBytes;
    v[2] = s.rxDropped;
    v[3] = s.txFrames;
    v[4] = s.txBytes;
    v[5] = s.txDropped;
    v[6] = s.txErrors;
    v[7] = this.dev.connected ? 1 : 0;
    v[8] = <u64>this.dev.connects;
    v[9] = this.dev.broken !== null ? 1 : 0;
  }
}
