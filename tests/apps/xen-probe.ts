// Test app: the real-Xen scenarios of several test apps and examples from
// one image (tests/xen/). xl's extra = "probe=<app> <the app's own
// arguments>" picks the app; each reads its arguments with appArgs() or
// "name=value" words. Why one image: gcc takes 5 to 20 s of CPU per image,
// and make test's time is bounded by this machine's CPU. The sim tests of
// udp-echo, tcp-services, http-server, stats, suspend-probe and selftest run this
// module too (asc costs 4 to 6 s of CPU per app: tests/sim/helpers.ts
// guestModule); the examples hello and trap, and udp-echo for memory = 4,
// stay images of their own under Xen.
import { ProbeApp, runProbe } from "./probe-args";
import { main as bootInfo } from "./boot-info";
import { main as deepTrap } from "./deep-trap";
import { main as soak } from "./soak";
import { main as hotplug } from "./hotplug";
import { main as suspendProbe } from "./suspend-probe";
import { main as tcpServices } from "./tcp-services";
import { main as stats } from "../../examples/stats/main";
import { main as selftest } from "../../examples/selftest/main";
import { main as udpEcho } from "../../examples/udp-echo/main";
import { main as httpServer } from "../../examples/http-server/main";
import { main as blkVerify } from "../../examples/blk-verify/main";

export function main(): void {
  runProbe("xen-probe", [
    new ProbeApp("boot-info", bootInfo),
    new ProbeApp("deep-trap", deepTrap),
    new ProbeApp("soak", soak),
    new ProbeApp("hotplug", hotplug),
    new ProbeApp("suspend-probe", suspendProbe),
    new ProbeApp("tcp-services", tcpServices),
    new ProbeApp("stats", stats),
    new ProbeApp("selftest", selftest),
    new ProbeApp("udp-echo", udpEcho),
    new ProbeApp("http-server", httpServer),
    new ProbeApp("blk-verify", blkVerify),
  ]);
}
