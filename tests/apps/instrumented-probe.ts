// Test app: the apps the sim tests run as instrumented builds (tools/build.ts
// "allocations" and "stress": tests/sim/allocations.test.ts and
// stress.test.ts) in one module, picked by a leading "probe=<app>" word of
// the command line (tests/sim/helpers.ts guestModule adds it): two asc
// compiles, one per instrumentation, instead of six.
import { ProbeApp, runProbe } from "./probe-args";
import { main as dangling } from "./dangling";
import { main as blkReuse } from "./blk-reuse";
import { main as udpEcho } from "../../examples/udp-echo/main";
import { main as blkVerify } from "../../examples/blk-verify/main";
import { main as selftest } from "../../examples/selftest/main";

export function main(): void {
  runProbe("instrumented-probe", [
    new ProbeApp("dangling", dangling),
    new ProbeApp("blk-reuse", blkReuse),
    new ProbeApp("udp-echo", udpEcho),
    new ProbeApp("blk-verify", blkVerify),
    new ProbeApp("selftest", selftest),
  ]);
}
