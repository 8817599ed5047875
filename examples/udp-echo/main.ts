// examples/udp-echo: answers ping and echoes UDP datagrams on port 7 on
// every vif, with the address xl's `ip=` gave the vif (or 10.0.0.2 + n).
// Vifs attached while it runs (`xl network-attach`) get a stack too, and a
// vif whose backend goes away and comes back (`xl network-detach` then
// `network-attach`, a netback restart) keeps its stack.
import { log, onShutdownRequest, ShutdownHandler, memoryStats } from "tsxen";
import { connectVifs, Netfront, VifHandler } from "tsxen/drivers/netfront";
import { NetStack, UdpHandler } from "tsxen/drivers/net/stack";
import { ipString } from "tsxen/drivers/net/bytes";

const ECHO_PORT: u16 = 7;

class Echo extends UdpHandler {
  onDatagram(stack: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: i32): void {
    stack.sendTo(srcIp, srcPort, dstPort, data, len);
  }
}

const echo = new Echo();
const stacks = new Array<NetStack>();

// One stack per vif, made the first time it connects.
class Vifs extends VifHandler {
  onConnect(dev: Netfront): void {
    for (let i = 0; i < stacks.length; i++) {
      if (stacks[i].dev === dev) {
        log("udp-echo: vif " + dev.info.id + " connected again");
        return;
      }
    }
    const stack = new NetStack(dev, dev.ip.length ? 0 : 0x0a000002 + <u32>stacks.length);
    stack.bind(ECHO_PORT, echo);
    stacks.push(stack);
    log("udp-echo: vif " + dev.info.id + " " + dev.macString() + " " + ipString(stack.ip) + " echoing on UDP port " + ECHO_PORT.toString());
  }
  onDisconnect(dev: Netfront, why: string): void {
    log("udp-echo: vif " + dev.info.id + " disconnected: " + why);
  }
}

// Reports what each interface saw when xl shuts the guest down.
class Report extends ShutdownHandler {
  onShutdown(reason: u32): void {
    for (let i = 0; i < stacks.length; i++) {
      const n = stacks[i].dev.stats, st = stacks[i].stats;
      log("udp-echo: vif " + stacks[i].dev.info.id + ": rx " + n.rxFrames.toString() + " frames (" + n.rxDropped.toString() + " dropped), tx " +
          n.txFrames.toString() + " (" + n.txDropped.toString() + " dropped, " + n.txErrors.toString() + " errors); arp replies " + st.arpReplies.toString() +
          ", echo replies " + st.icmpEchoReplies.toString() + ", udp in " + st.udpIn.toString() + " out " + st.udpOut.toString() + ", malformed " + st.malformed.toString());
      let q = "udp-echo: vif " + stacks[i].dev.info.id + " queues: oversize " + n.rxOversize.toString() + ", multi-slot " + n.rxMultiSlot.toString();
      for (let j = 0; j < stacks[i].dev.queues.length; j++) {
        const dq = stacks[i].dev.queues[j];
        q += "; " + j.toString() + " rx " + dq.rxFrames.toString() + " tx " + dq.txFrames.toString();
      }
      log(q);
    }
    const m = memoryStats();
    log("udp-echo: heap " + (m.heapBytes >> 10).toString() + " KiB, in use " + (m.usedBytes >> 10).toString() + " KiB, RAM " + (m.ramBytes >> 20).toString() + " MiB");
  }
}

export function main(): void {
  onShutdownRequest(new Report());
  const devices = connectVifs(new Vifs());
  if (devices.length == 0) log("udp-echo: no vif yet (waiting for one to be attached)");
  log("udp-echo: ready");
  // main returns; the event loop keeps running while vifs are connected.
}
