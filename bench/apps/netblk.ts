// bench/apps/netblk.ts: the tsxen side of `make bench`. Prints a first line
// (the boot marker), then, if a disk is attached, writes it whole and reads
// it whole in large requests (two chunks in flight, no CPU work on the data)
// and prints both times (then flushes, timed apart); then echoes UDP on port 7 and answers ping on every
// vif, like examples/udp-echo, serves TCP on the first vif (port 9 discards
// what it gets, port 19 sends `source=` bytes and closes, as the Linux
// guest's benchtool tcpsink/tcpsource) and HTTP on port 80
// (examples/http-server, quiet), until xl shuts it down.
// Command line: "chunk=<KiB>" (default 1024), "source=<bytes>", "kib=<TCP buffers>".
import { log, startInfo, monotonicNs, exit, grantPage, endAccess, bootTimeNs } from "tsxen";
import { pauseAccess, resumeAccess } from "tsxen/grant-tables/index";
import { Blkfront, BlkRequest, connectAll as connectDisks } from "tsxen/drivers/blkfront";
import { connectAll as connectVifs, Netfront } from "tsxen/drivers/netfront";
import { NetStack, UdpHandler } from "tsxen/drivers/net/stack";
import { Tcp, TcpConn, TcpHandler, TcpOptions } from "tsxen/drivers/net/tcp";
import { serveHttp, MAX_CONNECTIONS } from "../../examples/http-server/server";

// Port 9: reads to the end, then closes (the sender times until our close).
class Sink extends TcpHandler {
  onData(conn: TcpConn, data: usize, len: i32): i32 { return len; }
}

// Port 19: `source` bytes (one buffer's worth of 0xa5 written again and again), then close.
const SOURCE_CHUNK: i32 = 65536;
let sourceBuf: usize = 0;
let sourceBytes: u64 = 0;
const sourceSent = new StaticArray<u64>(MAX_CONNECTIONS);
class Source extends TcpHandler {
  onConnect(conn: TcpConn): void { sourceSent[conn.id] = 0; this.pump(conn); }
  onWritable(conn: TcpConn): void { this.pump(conn); }
  pump(conn: TcpConn): void {
    while (sourceSent[conn.id] < sourceBytes) {
      const n = conn.writeRaw(sourceBuf, <i32>min<u64>(<u64>SOURCE_CHUNK, sourceBytes - sourceSent[conn.id]));
      if (n <= 0) return;
      sourceSent[conn.id] += <u64>n;
    }
    conn.close();
  }
}

class Echo extends UdpHandler {
  onDatagram(stack: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: i32): void {
    stack.sendTo(srcIp, srcPort, dstPort, data, len);
  }
}

function arg(name: string, fallback: u64): u64 {
  const words = startInfo().cmdLine.split(" ");
  for (let i = 0; i < words.length; i++) if (words[i].startsWith(name + "=")) return U64.parseInt(words[i].substr(name.length + 1));
  return fallback;
}

let failed = false;
const stacks = new Array<NetStack>();   // kept reachable while the loop runs

// Streams the whole disk in `chunk`-sector requests, two in flight; ns or 0
// on error. A write is followed by a flush, not counted in the time.
function stream(dev: Blkfront, write: bool, chunk: u64, bufs: StaticArray<usize>): u64 {
  const total = dev.sectors;
  const t0 = monotonicNs();
  let pending: BlkRequest | null = null;
  let n = 0;
  for (let sector: u64 = 0; sector < total; sector += chunk, n++) {
    const count = total - sector < chunk ? total - sector : chunk;
    const req = write ? dev.write(sector, count, bufs[n & 1]) : dev.read(sector, count, bufs[n & 1]);
    if (pending !== null) {
      const err = dev.wait(pending);
      if (err !== null) { log("bench: blk error " + err!); failed = true; return 0; }
    }
    pending = req;
  }
  if (pending !== null) {
    const err = dev.wait(pending);
    if (err !== null) { log("bench: blk error " + err!); failed = true; return 0; }
  }
  return monotonicNs() - t0;
}

// Linux's dd oflag=direct issues no flush either: timed apart, after the
// read, so that neither phase's CPU window (bench/dom0/bench.sh) holds it.
function flush(dev: Blkfront): void {
  const t1 = monotonicNs();
  const err = dev.flushSync();
  if (err !== null) { log("bench: blk flush error " + err!); failed = true; return; }
  log("bench: blk flush ns=" + (monotonicNs() - t1).toString());
}

// What netfront adds per received frame so the backend cannot change a
// frame while it is parsed: its RX grant taken back before the frame is
// handed on and given again when the buffer is re-posted
// (pauseAccess/resumeAccess). Timed here on a page granted to dom0 and not
// mapped, which is the state of an RX buffer holding a received frame.
function rxPauseCost(): void {
  const page = heap.alloc(8192);
  const ref = grantPage(0, (page + 4095) & ~<usize>4095, false);
  if (ref < 0) return;
  const n = 100_000;
  const t0 = monotonicNs();
  for (let i = 0; i < n; i++) {
    pauseAccess(<u32>ref);
    resumeAccess(<u32>ref, false);
  }
  const ns = monotonicNs() - t0;
  endAccess(<u32>ref);
  heap.free(page);
  log("bench: rx-pause pairs=" + n.toString() + " ns=" + ns.toString());
}

export function main(): void {
  log("bench: tsxen up boot_ns=" + bootTimeNs().toString());
  const chunk: u64 = arg("chunk", 1024) * 2;   // KiB -> sectors
  const disks = connectDisks();
  if (disks.length > 0) {
    const bufs = new StaticArray<usize>(2);
    bufs[0] = heap.alloc(<usize>chunk * 512);
    bufs[1] = heap.alloc(<usize>chunk * 512);
    memory.fill(bufs[0], 0x5a, <usize>chunk * 512);
    memory.fill(bufs[1], 0xa5, <usize>chunk * 512);
    const dev = disks[0];
    if (dev.broken !== null) { log("bench: blk broken " + dev.broken!); failed = true; }
    else {
      const bytes = dev.sectors * 512;
      // The start of the guest-CPU window of the write (the Linux guest prints the same before its dd).
      log("bench: blk start");
      const w = stream(dev, true, chunk, bufs);
      if (w != 0) log("bench: blk write bytes=" + bytes.toString() + " ns=" + w.toString() + " chunk_kib=" + (chunk / 2).toString());
      const r = stream(dev, false, chunk, bufs);
      if (r != 0) log("bench: blk read bytes=" + bytes.toString() + " ns=" + r.toString() + " chunk_kib=" + (chunk / 2).toString());
      if (w != 0) flush(dev);
    }
    heap.free(bufs[0]);
    heap.free(bufs[1]);
  }
  const vifs = connectVifs();
  const echo = new Echo();
  let up = 0;
  for (let i = 0; i < vifs.length; i++) {
    const dev: Netfront = vifs[i];
    if (dev.broken !== null) continue;
    const stack = new NetStack(dev, dev.ip.length ? 0 : 0x0a000002 + <u32>i);
    stack.bind(7, echo);
    stacks.push(stack);
    up++;
  }
  rxPauseCost();
  if (stacks.length > 0) {
    const o = new TcpOptions();
    o.maxConnections = MAX_CONNECTIONS;
    o.sendBuffer = o.receiveBuffer = <i32>arg("kib", 64) * 1024;
    const tcp = new Tcp(stacks[0], o);
    sourceBytes = arg("source", 64 << 20);
    sourceBuf = heap.alloc(<usize>SOURCE_CHUNK);
    memory.fill(sourceBuf, 0xa5, <usize>SOURCE_CHUNK);
    tcp.listen(9, new Sink());
    tcp.listen(19, new Source());
    serveHttp(tcp, 80, null, true);
  }
  log("bench: ready disks=" + disks.length.toString() + " vifs=" + up.toString() + (failed ? " FAILED" : " ok"));
  if (failed) exit(1);
}
