// Test app for save, restore and migration (tests/sim/suspend.test.ts,
// tests/xen/suspend.test.ts): echoes UDP on port 7 and answers ping on
// every vif (as examples/udp-echo), and on every writable disk keeps
// writing a pattern over the whole disk, chunk by chunk with a pause
// between chunks (so the writes run across a suspend), then flushes, reads
// it all back and prints
//   "suspend-probe: xvda: <n> writes, crc32 <hex>, <n> mismatched sectors, <n> requests sent again"
// (the crc32 of the disk's contents: dom0's `busybox crc32` of the backing
// file must print the same). Its suspend hooks print what they saw:
//   "suspend-probe: suspending (n)", "suspend-probe: resumed (new domain: true|false), clock forward: true|false".
// On TCP port 9 of the first vif it sinks what arrives and, when the peer
// finishes, prints "suspend-probe: sink <remote port>: <n> bytes, crc <hex>"
// (a connection that lives across a migration).
// Command line: "gap_ms=<n>" (pause between chunks, default 1),
// "chunk_kb=<n>" (default 64).
import { log, monotonicNs, sleep, SuspendHandler, onSuspendResume, suspendCount } from "tsxen";
import { connectVifs, Netfront, VifHandler } from "tsxen/drivers/netfront";
import { NetStack } from "tsxen/drivers/net/stack";
import { ipString } from "tsxen/drivers/net/bytes";
import { Blkfront, connectAll } from "tsxen/drivers/blkfront";
import { crc32Update, hex32 } from "tsxen/drivers/digest";
import { Tcp, TcpConn, TcpHandler, TcpOptions } from "tsxen/drivers/net/tcp";
import { holdLoop } from "tsxen/runtime/loop";
import { arg, UdpEcho } from "./test-support";

const echo = new UdpEcho();
const stacks = new Array<NetStack>();
const tcps = new Array<Tcp>();

// Counts what arrives on a connection and its CRC-32 (one connection at a time).
class Sink extends TcpHandler {
  bytes: u64 = 0;
  crc: u32 = 0;
  onConnect(conn: TcpConn): void { this.bytes = 0; this.crc = 0; }
  onData(conn: TcpConn, data: usize, len: i32): i32 {
    this.crc = crc32Update(this.crc, data, <usize>len);
    this.bytes += <u64>len;
    return len;
  }
  onEnd(conn: TcpConn): void {
    log("suspend-probe: sink " + conn.remotePort.toString() + ": " + this.bytes.toString() + " bytes, crc " + hex32(this.crc));
    conn.close();
  }
}

class Vifs extends VifHandler {
  onConnect(dev: Netfront): void {
    for (let i = 0; i < stacks.length; i++) if (stacks[i].dev === dev) { log("suspend-probe: vif " + dev.info.id + " connected again"); return; }
    const stack = new NetStack(dev, dev.ip.length ? 0 : 0x0a000002 + <u32>stacks.length);
    stack.bind(7, echo);
    stacks.push(stack);
    if (tcps.length == 0) {
      const tcp = new Tcp(stack, new TcpOptions());
      tcp.listen(9, new Sink(), 4);
      tcps.push(tcp);
    }
    log("suspend-probe: vif " + dev.info.id + " " + ipString(stack.ip) + " echoing on UDP port 7");
  }
  onDisconnect(dev: Netfront, why: string): void {
    log("suspend-probe: vif " + dev.info.id + " disconnected: " + why);
  }
}

let clockBefore: u64 = 0;

class Hooks extends SuspendHandler {
  onSuspend(): void {
    clockBefore = monotonicNs();
    log("suspend-probe: suspending (" + (suspendCount() + 1).toString() + ")");
  }
  onResume(newDomain: bool): void {
    const forward = monotonicNs() >= clockBefore;
    log("suspend-probe: resumed (new domain: " + (newDomain ? "true" : "false") + "), clock forward: " + (forward ? "true" : "false"));
  }
}

function mix(x: u64): u64 {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

function fill(buf: usize, offset: u64, len: usize): void {
  const first = offset >> 3;
  for (let i: usize = 0; i < len; i += 8) store<u64>(buf + i, mix(first + <u64>(i >> 3)));
}

function writeAndVerify(dev: Blkfront, chunkSectors: u64, gapNs: u64): void {
  const name = dev.name();
  const total = dev.sectors;
  const buf = heap.alloc(<usize>chunkSectors * 512);
  let writes = 0;
  for (let sector: u64 = 0; sector < total; sector += chunkSectors) {
    const count = total - sector < chunkSectors ? total - sector : chunkSectors;
    fill(buf, sector * 512, <usize>count * 512);
    const err = dev.writeSync(sector, count, buf);
    if (err !== null) { log("suspend-probe: " + name + ": FAIL write at " + sector.toString() + ": " + err!); return; }
    writes++;
    if (gapNs > 0) sleep(gapNs);
  }
  const ferr = dev.flushSync();
  if (ferr !== null) { log("suspend-probe: " + name + ": FAIL flush: " + ferr!); return; }
  let crc: u32 = 0;
  let bad: u64 = 0;
  for (let sector: u64 = 0; sector < total; sector += chunkSectors) {
    const count = total - sector < chunkSectors ? total - sector : chunkSectors;
    const err = dev.readSync(sector, count, buf);
    if (err !== null) { log("suspend-probe: " + name + ": FAIL read at " + sector.toString() + ": " + err!); return; }
    crc = crc32Update(crc, buf, <usize>count * 512);
    const first = (sector * 512) >> 3;
    for (let s: usize = 0; s < <usize>count * 512; s += 512) {
      for (let i: usize = s; i < s + 512; i += 8) if (load<u64>(buf + i) != mix(first + <u64>(i >> 3))) { bad++; break; }
    }
  }
  log("suspend-probe: " + name + ": " + writes.toString() + " writes, crc32 " + hex32(crc) + ", " + bad.toString() + " mismatched sectors, " + dev.stats.reissued.toString() + " requests sent again");
  heap.free(buf);
}

export function main(): void {
  onSuspendResume(new Hooks());
  connectVifs(new Vifs());
  holdLoop(); // runs until xl shuts the domain down
  log("suspend-probe: ready");
  const disks = connectAll();
  const chunk = <u64>arg("chunk_kb", 64) * 2;
  const gap = <u64>arg("gap_ms", 1) * 1_000_000;
  for (let i = 0; i < disks.length; i++) if (!disks[i].readOnly) writeAndVerify(disks[i], chunk, gap);
}
