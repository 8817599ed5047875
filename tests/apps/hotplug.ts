// Test app (tests/xen/hotplug.test.ts): the net and block hot-plug API as an
// app uses it. Every vif gets a UDP echo stack when it first connects; the
// first disk is written and read back (a sector every 2 ms, blocking calls
// in a timer) for as long as it is connected. Every connect and disconnect
// is logged; the shutdown report says how many disk round trips worked
// since the disk last connected.
import { log, setTimer, Timer, TimerHandler, onShutdownRequest, ShutdownHandler } from "tsxen";
import { connectVifs, Netfront, VifHandler } from "tsxen/drivers/netfront";
import { NetStack } from "tsxen/drivers/net/stack";
import { Blkfront, BlkOptions, DiskHandler, connectDisks } from "tsxen/drivers/blkfront";
import { UdpEcho } from "./test-support";

const echo = new UdpEcho();
const stacks = new Array<NetStack>();

class Vifs extends VifHandler {
  onConnect(dev: Netfront): void {
    for (let i = 0; i < stacks.length; i++) {
      if (stacks[i].dev === dev) { log("hotplug: vif " + dev.info.id + " connected again"); return; }
    }
    const stack = new NetStack(dev);
    stack.bind(7, echo);
    stacks.push(stack);
    log("hotplug: vif " + dev.info.id + " connected");
  }
  onDisconnect(dev: Netfront, why: string): void {
    log("hotplug: vif " + dev.info.id + " disconnected: " + why);
  }
}

const buf = heap.alloc(4096);
const back = heap.alloc(4096);
let disk: Blkfront | null = null;

class Work extends TimerHandler {
  n: u32 = 0;
  ok: i32 = 0;
  sinceConnect: i32 = 0;
  failed: i32 = 0;
  mismatched: i32 = 0;
  onTimer(t: Timer): void {
    const dev = disk;
    if (dev !== null && dev.connected) {
      const sector = <u64>(this.n % 64) * 8;
      memory.fill(buf, <u8>this.n, 4096);
      let err = dev.writeSync(sector, 8, buf);
      if (err === null) err = dev.readSync(sector, 8, back);
      if (err !== null) this.failed++;
      else if (memory.compare(buf, back, 4096) != 0) this.mismatched++;
      else { this.ok++; this.sinceConnect++; }
      this.n++;
    }
    setTimer(2_000_000, this);
  }
}

const work = new Work();

class Disks extends DiskHandler {
  onConnect(dev: Blkfront): void {
    disk = dev;
    work.sinceConnect = 0;
    log("hotplug: " + dev.name() + " connected (" + dev.connects.toString() + ")");
  }
  onDisconnect(dev: Blkfront, why: string): void {
    log("hotplug: " + dev.name() + " disconnected: " + why);
  }
}

class Report extends ShutdownHandler {
  onShutdown(reason: u32): void {
    log("hotplug: disk round trips ok " + work.ok.toString() + " (" + work.sinceConnect.toString() + " since the last connect), failed " +
        work.failed.toString() + ", mismatched " + work.mismatched.toString());
    for (let i = 0; i < stacks.length; i++) {
      const d = stacks[i].dev;
      log("hotplug: vif " + d.info.id + ": connects " + d.connects.toString() + ", udp in " + stacks[i].stats.udpIn.toString() + ", leaked grants " + d.leakedGrants.toString());
    }
  }
}

export function main(): void {
  onShutdownRequest(new Report());
  connectVifs(new Vifs());
  connectDisks(new BlkOptions(), new Disks());
  setTimer(2_000_000, work);
  log("hotplug: ready");
}
