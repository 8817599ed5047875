// Test app: the sim tests' small test apps in one module, picked by a
// leading "probe=<app>" word of the command line (tests/sim/helpers.ts
// guestModule adds it). asc costs 1 to 5 s of CPU per app, most of it the
// runtime and drivers every app shares: one compile instead of eighteen.
// Apps whose tests measure memory or backtraces (memory-probe, watch-flood,
// deep-trap, soak, boot-info) stay modules of their own, as do the
// examples; tests/apps/xen-probe.ts does the same for the real-Xen images.
import { log } from "tsxen";
import { probeName } from "./probe-args";
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
  const app = probeName();
  if (app == "blk-model") blkModel();
  else if (app == "blk-edge") blkEdge();
  else if (app == "blk-hostile") blkHostile();
  else if (app == "blk-hotplug") blkHotplug();
  else if (app == "fuzz-disk") fuzzDisk();
  else if (app == "net-blocking") netBlocking();
  else if (app == "net-txdrop") netTxdrop();
  else if (app == "net-noarm") netNoarm();
  else if (app == "xs-probe") xsProbe();
  else if (app == "xs-tx") xsTx();
  else if (app == "xs-interleave") xsInterleave();
  else if (app == "xs-dead") xsDead();
  else if (app == "xs-fuzz") xsFuzz();
  else if (app == "evt-probe") evtProbe();
  else if (app == "grant-probe") grantProbe();
  else if (app == "idle") idle();
  else if (app == "chatty") chatty();
  else if (app == "primitives") primitives();
  else log("sim-probe: no app '" + app + "' (a command line starting \"probe=<app>\")");
}
