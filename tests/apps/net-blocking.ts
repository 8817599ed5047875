// Test app: a UDP echo whose datagram handler blocks before it answers (a
// xenstore read, or a sleep), as an app that looks something up per request
// does. It checks that the datagram's bytes did not change while it was
// blocked (the backend may not write into a buffer it has answered), and
// reports the device's and the stack's counters at shutdown.
// Command line: "block=xs" (default) or "block=sleep".
import { log, sleep, onShutdownRequest, ShutdownHandler, startInfo } from "tsxen";
import * as xs from "tsxen/xenstore/client";
import { connectAll, Netfront } from "tsxen/drivers/netfront";
import { NetStack, UdpHandler } from "tsxen/drivers/net/stack";

const snapshot = new Uint8Array(64);

class BlockingEcho extends UdpHandler {
  sleeping: bool = false;
  changed: i32 = 0;
  lookups: i32 = 0;
  failed: i32 = 0;
  onDatagram(stack: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: i32): void {
    const n = min(len, 64);
    memory.copy(snapshot.dataStart, data, n);
    if (this.sleeping) {
      sleep(200_000);
    } else {
      const r = xs.read("name");
      this.lookups++;
      if (r.error !== null) this.failed++;
    }
    if (memory.compare(snapshot.dataStart, data, n) != 0) this.changed++;
    stack.sendTo(srcIp, srcPort, dstPort, data, len);
  }
}

const echo = new BlockingEcho();
const stacks = new Array<NetStack>();

class Report extends ShutdownHandler {
  onShutdown(reason: u32): void {
    for (let i = 0; i < stacks.length; i++) {
      const d = stacks[i].dev, n = d.stats, st = stacks[i].stats;
      log("net-blocking: vif " + d.info.id + ": " + (d.broken !== null ? "broken: " + d.broken! : "ok") + "; rx " + n.rxFrames.toString() +
          " dropped " + n.rxDropped.toString() + ", tx " + n.txFrames.toString() + " dropped " + n.txDropped.toString() + ", udp in " + st.udpIn.toString() + " out " + st.udpOut.toString());
    }
    log("net-blocking: lookups " + echo.lookups.toString() + " failed " + echo.failed.toString() + ", changed under the reader " + echo.changed.toString());
  }
}

export function main(): void {
  echo.sleeping = startInfo().cmdLine.includes("block=sleep");
  onShutdownRequest(new Report());
  const devices = connectAll();
  for (let i = 0; i < devices.length; i++) {
    const dev: Netfront = devices[i];
    if (dev.broken !== null) continue;
    const stack = new NetStack(dev);
    stack.bind(7, echo);
    stacks.push(stack);
  }
  log("net-blocking: ready");
}
