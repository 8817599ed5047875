// Test app: the sim tests' small test apps in one module, picked by a
// leading "probe=<app>" word of the command line (tests/sim/helpers.ts
// guestModule adds it). asc costs 1 to 5 s of CPU per app, most of it the
// runtime and drivers every app shares: one compile instead of eighteen.
// Apps whose tests measure memory or backtraces (memory-probe, watch-flood,
// deep-trap, soak, boot-info) stay modules of their own, as do the
// examples; tests/apps/xen-probe.ts does the same for the real-Xen images.
import { ProbeApp, runProbe } from "./probe-args";
import { main as blkModel } from "./blk-model";
import { main as blkEdge } from "./blk-edge";
import { main as blkHostile } from "./blk-hostile";
import { main as blkHotplug } from "./blk-hotplug";
import { main as fuzzDisk } from "./fuzz-disk";
import { main as netBlocking } from "./net-blocking";
import { main as netTxdrop } from "./net-txdrop";
import { main as netNoarm } from "./net-noarm";
import { main as xsProbe } from "./xs-probe";
import { main as xsTx } from "./xs-tx";
import { main as xsInterleave } from "./xs-interleave";
import { main as xsDead } from "./xs-dead";
import { main as xsFuzz } from "./xs-fuzz";
import { main as evtProbe } from "./evt-probe";
import { main as grantProbe } from "./grant-probe";
import { main as idle } from "./idle";
import { main as chatty } from "./chatty";
import { main as primitives } from "./primitives";

export function main(): void {
  runProbe("sim-probe", [
    new ProbeApp("blk-model", blkModel),
    new ProbeApp("blk-edge", blkEdge),
    new ProbeApp("blk-hostile", blkHostile),
    new ProbeApp("blk-hotplug", blkHotplug),
    new ProbeApp("fuzz-disk", fuzzDisk),
    new ProbeApp("net-blocking", netBlocking),
    new ProbeApp("net-txdrop", netTxdrop),
    new ProbeApp("net-noarm", netNoarm),
    new ProbeApp("xs-probe", xsProbe),
    new ProbeApp("xs-tx", xsTx),
    new ProbeApp("xs-interleave", xsInterleave),
    new ProbeApp("xs-dead", xsDead),
    new ProbeApp("xs-fuzz", xsFuzz),
    new ProbeApp("evt-probe", evtProbe),
    new ProbeApp("grant-probe", grantProbe),
    new ProbeApp("idle", idle),
    new ProbeApp("chatty", chatty),
    new ProbeApp("primitives", primitives),
  ]);
}
