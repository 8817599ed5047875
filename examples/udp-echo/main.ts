// examples/udp-echo: answers ping and echoes UDP datagrams on port 7 on
// every vif, with the address xl's `ip=` gave the vif (or 10.0.0.2 + n).
import { log, onShutdownRequest, ShutdownHandler } from "tsxen";
import { connectAll, Netfront } from "tsxen/drivers/netfront";
import { NetStack, UdpHandler } from "tsxen/drivers/net/stack";
import { ipString } from "tsxen/drivers/net/bytes";

const ECHO_PORT: u16 = 7;

class Echo extends UdpHandler {
  onDatagram(stack: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: i32): void {
    stack.sendTo(srcIp, srcPort, dstPort, data, len);
  }
}

const stacks = new Array<NetStack>();

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
  }
}

export function main(): void {
  onShutdownRequest(new Report());
  const devices = connectAll();
  if (devices.length == 0) log("udp-echo: no usable vif");
  const echo = new Echo();
  for (let i = 0; i < devices.length; i++) {
    const dev: Netfront = devices[i];
    if (dev.broken !== null) continue;
    const stack = new NetStack(dev, dev.ip.length ? 0 : 0x0a000002 + <u32>i);
    stack.bind(ECHO_PORT, echo);
    stacks.push(stack);
    log("udp-echo: vif " + dev.info.id + " " + dev.macString() + " " + ipString(stack.ip) + " echoing on UDP port " + ECHO_PORT.toString());
  }
  log("udp-echo: ready");
  // main returns; the event loop keeps running while the vifs are connected.
}
