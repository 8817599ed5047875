// TCP services for the sim and real-Xen tests, on the first vif:
//   7  echo: returns every byte (back-pressure: takes what the send buffer takes)
//   9  sink: counts and checks what arrives (the pattern of sim/tcp-peer.ts,
//      and its CRC-32), logs "tcp-services: sink <remote port>: <n> bytes,
//      crc <hex>, <m> off-pattern" when the peer finishes, and closes
//  19  source: sends `source=` bytes of the pattern, then closes
//  13  memory: runs a full collection, then sends "used <bytes> heap
//      <bytes>\n" (runtime/memory.ts memoryStats) and closes
// With `connect=<a.b.c.d>:<port>`, it also opens a connection there and
// sends `send=` bytes of the pattern, then shuts its side down (and sinks
// what comes back). Other arguments: `kib=` send and receive buffer size
// (KiB, default 64), `conns=` connection limit (default 64), `backlog=`.
// On `xl shutdown` (or a sim shutdown request) it logs the TCP counters and
// the size of its memory ("tcp-services: memory <bytes>").
import { log, startInfo, onShutdownRequest, ShutdownHandler, collect, memoryStats, randomSource } from "tsxen";
import { connectVifs } from "tsxen/drivers/netfront";
import { NetStack } from "tsxen/drivers/net/stack";
import { Tcp, TcpConn, TcpHandler, TcpOptions, closeReasonName } from "tsxen/drivers/net/tcp";
import { ipString, parseIp } from "tsxen/drivers/net/bytes";
import { crc32Update, hex32 } from "tsxen/drivers/digest";

function argText(name: string): string {
  const words = startInfo().cmdLine.split(" ");
  for (let i = 0; i < words.length; i++) if (words[i].startsWith(name + "=")) return words[i].substr(name.length + 1);
  return "";
}

function arg(name: string, fallback: i64): i64 {
  const t = argText(name);
  return t.length ? I64.parseInt(t) : fallback;
}

// Byte i of the test stream (sim/tcp-peer.ts): byte i mod 4 of word (i div 4) times the golden ratio.
@inline function patternWord(i: u64): u32 {
  return <u32>(i >> 2) * 0x9e3779b1;
}

const CHUNK: i32 = 16384;
const chunk = heap.alloc(CHUNK);

// Per connection (by slot id): what a sink has seen, what a source has sent.
const MAX: i32 = 1024;
const received = new StaticArray<u64>(MAX);
const crcs = new StaticArray<u32>(MAX);
const offPattern = new StaticArray<u64>(MAX);
const sent = new StaticArray<u64>(MAX);
const toSend = new StaticArray<u64>(MAX);

function resetSlot(c: TcpConn): void {
  received[c.id] = 0;
  crcs[c.id] = 0;
  offPattern[c.id] = 0;
  sent[c.id] = 0;
}

class Echo extends TcpHandler {
  onData(conn: TcpConn, data: usize, len: i32): i32 {
    const n = conn.writeRaw(data, len);
    return n < 0 ? len : n;
  }
  onWritable(conn: TcpConn): void { conn.resumeData(); }
  onClose(conn: TcpConn, reason: i32): void {
    if (reason != 0) log("tcp-services: echo " + conn.remotePort.toString() + " " + closeReasonName(reason));
  }
}

// Counts and checks what arrives.
class Sink extends TcpHandler {
  onConnect(conn: TcpConn): void { resetSlot(conn); }
  onData(conn: TcpConn, data: usize, len: i32): i32 {
    const id = conn.id;
    const base = received[id];
    let bad: u64 = 0;
    let w = patternWord(base);
    for (let i = 0; i < len; i++) {
      const at = base + <u64>i;
      if ((at & 3) == 0) w = patternWord(at);
      if (load<u8>(data + <usize>i) != <u8>(w >> (<u32>(at & 3) * 8))) bad++;
    }
    offPattern[id] += bad;
    crcs[id] = crc32Update(crcs[id], data, <usize>len);
    received[id] = base + <u64>len;
    return len;
  }
  onEnd(conn: TcpConn): void {
    log("tcp-services: sink " + conn.remotePort.toString() + ": " + received[conn.id].toString() + " bytes, crc " + hex32(crcs[conn.id]) +
        ", " + offPattern[conn.id].toString() + " off-pattern");
    conn.close();
  }
  onClose(conn: TcpConn, reason: i32): void {
    if (reason != 0) log("tcp-services: sink " + conn.remotePort.toString() + " " + closeReasonName(reason) + " after " + received[conn.id].toString() + " bytes");
  }
}

// Sends toSend[id] bytes of the pattern, then shuts down (the sink side of
// a client connection keeps counting what comes back).
function pump(conn: TcpConn): void {
  const id = conn.id;
  while (sent[id] < toSend[id]) {
    const n = <i32>min<u64>(<u64>CHUNK, toSend[id] - sent[id]);
    const base = sent[id];
    let w = patternWord(base);
    for (let i = 0; i < n; i++) {
      const at = base + <u64>i;
      if ((at & 3) == 0) w = patternWord(at);
      store<u8>(chunk + <usize>i, <u8>(w >> (<u32>(at & 3) * 8)));
    }
    const took = conn.writeRaw(chunk, n);
    if (took <= 0) return;       // full: onWritable brings us back
    sent[id] = base + <u64>took;
  }
  conn.shutdown();
}

class Source extends TcpHandler {
  onConnect(conn: TcpConn): void {
    resetSlot(conn);
    toSend[conn.id] = <u64>arg("source", 1 << 20);
    pump(conn);
  }
  onWritable(conn: TcpConn): void { pump(conn); }
  onData(conn: TcpConn, data: usize, len: i32): i32 { return len; }
  onEnd(conn: TcpConn): void { conn.close(); }
  onClose(conn: TcpConn, reason: i32): void {
    log("tcp-services: source " + conn.remotePort.toString() + " " + closeReasonName(reason) + " after " + sent[conn.id].toString() + " bytes");
  }
}

class Client extends Sink {
  onConnect(conn: TcpConn): void {
    resetSlot(conn);
    toSend[conn.id] = <u64>arg("send", 1 << 20);
    log("tcp-services: connected to " + ipString(conn.remoteIp) + ":" + conn.remotePort.toString() + " from port " + conn.localPort.toString());
    pump(conn);
  }
  onWritable(conn: TcpConn): void { pump(conn); }
  onClose(conn: TcpConn, reason: i32): void {
    log("tcp-services: client " + closeReasonName(reason) + ", sent " + sent[conn.id].toString() + ", received " + received[conn.id].toString());
  }
}

// What the heap holds once the garbage is gone: a test compares it across
// thousands of connections (TCP should allocate nothing per connection).
class MemoryReport extends TcpHandler {
  onConnect(conn: TcpConn): void {
    collect();
    const s = memoryStats();
    conn.writeString("used " + s.usedBytes.toString() + " heap " + s.heapBytes.toString() + "\n");
    conn.close();
  }
}

let tcp: Tcp | null = null;
let stack: NetStack | null = null;

class Report extends ShutdownHandler {
  onShutdown(reason: u32): void {
    const t = tcp;
    if (t === null) return;
    const s = t.stats;
    log("tcp-services: segments in " + s.segmentsIn.toString() + " out " + s.segmentsOut.toString() + ", retransmitted " + s.retransmitted.toString() +
        ", fast retransmits " + s.fastRetransmits.toString() + ", timeouts " + s.timeouts.toString() + ", out of order " + s.outOfOrder.toString() +
        ", dropped out of order " + s.outOfOrderDropped.toString() + ", malformed " + s.malformed.toString());
    log("tcp-services: resets sent " + s.resetsSent.toString() + " limited " + s.resetsLimited.toString() + ", challenge acks " + s.challengeAcks.toString() +
        " limited " + s.challengeAcksLimited.toString() + ", out of window " + s.outOfWindow.toString() + ", bad acks " + s.badAcks.toString() +
        ", paws " + s.pawsRejected.toString() + ", cookies sent " + s.synCookiesSent.toString() + " accepted " + s.synCookiesAccepted.toString() +
        " rejected " + s.synCookiesRejected.toString() + ", listen drops " + s.listenDrops.toString() + ", window probes " + s.windowProbes.toString() +
        ", resets received " + s.resetsReceived.toString() + ", passive opens " + s.passiveOpens.toString());
    log("tcp-services: connections " + t.connections().toString() + ", slots " + t.slotsMade().toString() + ", time-wait " + t.timeWaitCount().toString() + ", evicted " + s.timeWaitEvicted.toString() +
        ", established " + s.established.toString() + ", closed " + s.closed.toString());
    log("tcp-services: memory " + (<u64>memory.size() * 65536).toString());
  }
}

export function main(): void {
  onShutdownRequest(new Report());
  const vifs = connectVifs();
  if (vifs.length == 0) { log("tcp-services: no vif"); return; }
  const st = new NetStack(vifs[0]);
  stack = st;
  if (!st.waitForAddress(120_000_000_000)) { log("tcp-services: no address"); return; }
  const o = new TcpOptions();
  const kib = <i32>arg("kib", 64);
  o.sendBuffer = kib * 1024;
  o.receiveBuffer = kib * 1024;
  o.maxConnections = <i32>arg("conns", 64);
  const t = new Tcp(st, o);
  tcp = t;
  const backlog = <i32>arg("backlog", 64);
  t.listen(7, new Echo(), backlog);
  t.listen(9, new Sink(), backlog);
  t.listen(19, new Source(), backlog);
  t.listen(13, new MemoryReport(), backlog);
  const target = argText("connect");
  if (target.length) {
    const colon = target.indexOf(":");
    const c = t.connect(parseIp(target.substr(0, colon)), <u16>I32.parseInt(target.substr(colon + 1)), new Client());
    if (c === null) log("tcp-services: connect failed at once");
  }
  log("tcp-services: ready on " + ipString(st.ip) + " (" + kib.toString() + " KiB buffers, " + o.maxConnections.toString() + " connections, random numbers from " + randomSource() + ")");
}
