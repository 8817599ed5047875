// TCP against our own TCP host over a seeded link model (sim/link.ts,
// sim/tcp-peer.ts): the handshake and its options, echo, both ways of
// closing, an active open from the guest, and 64 MiB each way intact
// under 5 % loss with reordering and duplication.
import test from "tape";
import { pattern, patternByte, type PeerConn } from "../../sim/tcp-peer.ts";
import { TCP_SYN, TCP_ACK, TCP_FIN, type ParsedFrame } from "../../sim/netswitch.ts";
import { tcpRig, whenReady, shutdown, line, counters, MS } from "./tcp-rig.ts";
import { noTrap } from "./net-rig.ts";

const MiB = 1 << 20;
const u32 = (n: number) => n >>> 0;

// Checks bytes against the pattern as they arrive.
class PatternCheck {
  got = 0;
  bad = 0;
  take(d: Uint8Array): void {
    for (let i = 0; i < d.length; i++) if (d[i] !== patternByte(this.got + i)) this.bad++;
    this.got += d.length;
  }
}

test("tcp: the guest's SYN-ACK carries MSS, window scale, SACK-permitted and timestamps; echo of 200 KB; the peer closes first", async (t) => {
  const r = await tcpRig();
  let synAck: ParsedFrame | null = null;
  r.host.onSegment = (f) => { if ((f.tcp!.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) synAck ??= f; };
  const check = new PatternCheck();
  let closed = "";
  let conn: PeerConn | null = null;
  whenReady(r, () => {
    conn = r.host.connect(7, {
      onData: (_c, d) => check.take(d),
      onClose: (_c, why) => { closed = why; r.g.dom0.after(10n * MS, () => shutdown(r)); },
    });
    conn.sendStream(200_000, pattern, true);
  });
  const res = await r.g.run();
  noTrap(t, res);
  const s = (synAck as ParsedFrame | null)?.tcp;
  t.equal(s?.mss, 1460, "MSS 1460 (mtu 1500)");
  t.equal(s?.wscale, 1, "window scale 1 (a 64 KiB buffer)");
  t.ok(s?.sackOk, "SACK-permitted");
  t.ok(s?.ts && s.ts[1] !== 0, "timestamps, echoing ours");
  t.equal(check.got, 200_000, "every byte echoed");
  t.equal(check.bad, 0, "in order and intact");
  t.equal(closed, "done", "both FINs exchanged and acknowledged");
  t.deepEqual(r.host.violations, [], "the guest sent nothing wrong (checksums, ACKs, SACK blocks)");
  t.match(line(res, "tcp-services: connections"), /connections 0, slots 1, time-wait 0/, "the slot is free again; the passive closer keeps no TIME-WAIT");
});

test("tcp: the guest opens a connection (active open), sends 1 MiB, shuts down; the peer answers and closes", async (t) => {
  const r = await tcpRig({ sim: { cmdline: `connect=10.0.0.1:5001 send=${MiB}` } });
  const check = new PatternCheck();
  let syn: ParsedFrame | null = null;
  r.host.onSegment = (f) => { if (f.tcp!.flags === TCP_SYN) syn ??= f; };
  r.host.announce();
  r.host.listen(5001, {
    onData: (_c, d) => check.take(d),
    onEnd: (c) => c.sendStream(1000, pattern, true),
    onClose: () => r.g.dom0.after(10n * MS, () => shutdown(r)),
  });
  const res = await r.g.run();
  noTrap(t, res);
  const s = (syn as ParsedFrame | null)?.tcp;
  t.ok(s && s.mss === 1460 && s.wscale === 1 && s.sackOk && s.ts, "the SYN offers MSS, window scale, SACK and timestamps");
  t.ok(s && s.srcPort >= 49152, `an ephemeral source port (${s?.srcPort})`);
  t.equal(check.got, MiB, "1 MiB arrived");
  t.equal(check.bad, 0, "intact");
  t.match(res.console, /tcp-services: client closed, sent 1048576, received 1000/, "the guest read the answer and closed normally");
  t.match(line(res, "tcp-services: connections"), /time-wait 1/, "the active closer is in TIME-WAIT (its slot already free)");
  t.deepEqual(r.host.violations, []);
});

// 64 MiB through a link that loses 5 % of frames, reorders 5 % (held
// back 3 ms) and duplicates 1 %, each way.
const LOSSY = { seed: 11, loss: 0.05, reorder: 0.05, duplicate: 0.01 };

test("tcp: 64 MiB to the guest arrive intact under 5 % loss, reordering and duplication", async (t) => {
  const r = await tcpRig({ link: LOSSY, sim: { maxHypercalls: 1e9 } });
  let closed = "";
  let peer: PeerConn | null = null;
  whenReady(r, () => {
    peer = r.host.connect(9, { onClose: (_c, why) => { closed = why; r.g.dom0.after(10n * MS, () => shutdown(r)); } });
    peer.sendStream(64 * MiB, pattern, true);
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.match(res.console, /tcp-services: sink \d+: 67108864 bytes, crc [0-9a-f]{8}, 0 off-pattern/, "64 MiB counted, every byte where it belongs");
  t.equal(closed, "done", "closed normally");
  const c = counters(res);
  t.ok(c["out of order"] > 1000, `segments held out of order: ${c["out of order"]}`);
  t.ok(r.link.stats.lost > 1000, `the link lost ${r.link.stats.lost} frames`);
  const p = (peer as PeerConn | null)!;
  t.ok(p.stats.sackBlocksIn > 1000, `the guest sent SACK blocks (${p.stats.sackBlocksIn})`);
  t.deepEqual(r.host.violations, [], "no malformed segment, ACK or SACK block from the guest");
  t.comment(`virtual time ${Number(r.g.clock.now() / MS)} ms; peer: ${JSON.stringify(p.stats)}`);
});

test("tcp: 64 MiB from the guest arrive intact under 5 % loss, reordering and duplication (sent as GSO frames: netback offers feature-gso-tcpv4)", async (t) => {
  const r = await tcpRig({ link: LOSSY, sim: { cmdline: `source=${64 * MiB}`, maxHypercalls: 1e9 }, vif: { features: { sg: true, gso: true } } });
  const check = new PatternCheck();
  let closed = "";
  whenReady(r, () => {
    r.host.connect(19, {
      onData: (_c, d) => check.take(d),
      onEnd: (c) => c.finish(),
      onClose: (_c, why) => { closed = why; r.g.dom0.after(10n * MS, () => shutdown(r)); },
    });
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(check.got, 64 * MiB, "64 MiB arrived");
  t.equal(check.bad, 0, "every byte where it belongs");
  t.equal(closed, "done", "closed normally");
  t.match(res.console, /tcp-services: source \d+ closed after 67108864 bytes/);
  const c = counters(res);
  t.ok(c["fast retransmits"] > 100, `fast retransmits (NewReno): ${c["fast retransmits"]}`);
  t.ok(c.retransmitted > 1000, `segments retransmitted: ${c.retransmitted}`);
  t.ok(r.vif.stats.txGso > 1000, `GSO frames cut into segments by the sim netback: ${r.vif.stats.txGso} of ${r.vif.stats.txFrames} frames`);
  t.match(res.console, /netfront 0: 1 queue, sg, gso/, "netfront negotiated gso");
  t.deepEqual(r.host.violations, []);
  t.comment(`virtual time ${Number(r.g.clock.now() / MS)} ms; guest: ${line(res, "tcp-services: segments")}`);
});

test("tcp: a SYN to a closed port gets RST+ACK, a stray ACK an RST at its ack; 1000 such SYNs at once get at most 100 resets (rate limit)", async (t) => {
  const r = await tcpRig();
  const resets: ParsedFrame[] = [];
  r.host.onSegment = (f) => { if (f.tcp!.flags & 0x04) resets.push(f); };
  whenReady(r, () => {
    r.host.transmit({ srcPort: 1111, dstPort: 4242, seq: 1000, flags: TCP_SYN, window: 65535 });
    r.host.transmit({ srcPort: 1112, dstPort: 4242, seq: 5000, ack: 777777, flags: TCP_ACK, window: 65535 });
    r.g.dom0.after(5n * MS, () => {
      for (let i = 0; i < 1000; i++) r.host.transmit({ srcPort: 2000 + i, dstPort: 4243, seq: i, flags: TCP_SYN, window: 65535 });
      r.g.dom0.after(50n * MS, () => shutdown(r));
    });
  });
  const res = await r.g.run();
  noTrap(t, res);
  const first = resets.find((f) => f.tcp!.dstPort === 1111)?.tcp;
  t.ok(first && first.flags === (0x04 | TCP_ACK) && first.ack === 1001 && first.seq === 0, "SYN: <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>");
  const second = resets.find((f) => f.tcp!.dstPort === 1112)?.tcp;
  t.ok(second && second.flags === 0x04 && second.seq === 777777, "ACK: <SEQ=SEG.ACK><CTL=RST>");
  const burst = resets.filter((f) => f.tcp!.dstPort >= 2000).length;
  t.ok(burst >= 90 && burst <= 160, `resets for the 1000-SYN burst: ${burst}`);
});

test("tcp: 100 connections at once each echo 20 KB intact", async (t) => {
  const r = await tcpRig({ sim: { cmdline: "conns=128 kib=32", memoryMB: 64, maxHypercalls: 1e9 } });
  const checks: PatternCheck[] = [];
  let done = 0;
  whenReady(r, () => {
    for (let i = 0; i < 100; i++) {
      const check = new PatternCheck();
      checks.push(check);
      r.host.connect(7, {
        onOpen: (c) => c.sendStream(20_000, pattern, true),
        onData: (_c, d) => check.take(d),
        onClose: () => { if (++done === 100) r.g.dom0.after(10n * MS, () => shutdown(r)); },
      });
    }
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(done, 100, "all 100 connections closed normally");
  t.equal(checks.filter((c) => c.got === 20_000 && c.bad === 0).length, 100, "each echoed its 20,000 bytes intact");
  t.match(line(res, "tcp-services: connections"), /connections 0, slots 100,/, "100 slots made, all free again");
  t.deepEqual(r.host.violations, []);
});

test("tcp: at the connection limit the 5th connection waits (its SYN, or its cookie's ACK, dropped) and is served once a slot frees", async (t) => {
  const r = await tcpRig({ sim: { cmdline: "conns=4" } });
  const echoed = [0, 0, 0, 0, 0];
  const conns: PeerConn[] = [];
  whenReady(r, () => {
    for (let i = 0; i < 5; i++) {
      conns.push(r.host.connect(7, { onOpen: (c) => c.sendStream(100, pattern, false), onData: (_c, d) => { echoed[i] += d.length; } }));
    }
    r.g.dom0.after(500n * MS, () => {
      t.deepEqual(echoed, [100, 100, 100, 100, 0], "4 connections served, the 5th waits");
      conns[0].finish();
      r.g.dom0.after(3000n * MS, () => shutdown(r));
    });
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(echoed[4], 100, "the 5th was served after the first closed (its data retransmitted)");
  t.ok(counters(res)["listen drops"] >= 1, `segments dropped at the limit: ${counters(res)["listen drops"]}`);
});

test("tcp: TIME-WAIT: the guest closed first; the same client port reconnecting with a higher ISN gets a new connection; a retransmitted FIN is acknowledged again; the entry expires after 60 s", async (t) => {
  const r = await tcpRig({ sim: { cmdline: "source=1000" } });
  const closes: string[] = [];
  let second = 0;
  const finAcks: ParsedFrame[] = [];
  let c2: PeerConn | null = null;
  const refin = () => {
    // Our FIN again, as if the guest's ACK of it had been lost.
    const c = c2!;
    r.host.onSegment = (f) => { if (f.tcp!.dstPort === 40000) finAcks.push(f); };
    r.host.transmit({ srcPort: 40000, dstPort: 19, seq: c.seqOf(c.total), ack: u32(c.irs + 1 + c.rcvNxt + 1), flags: TCP_ACK | TCP_FIN, window: 65535, options: { ts: [Number(r.g.clock.now() / MS) >>> 0, c.tsRecent] } });
    r.g.dom0.after(61_000n * MS, () => shutdown(r));
  };
  whenReady(r, () => {
    r.host.connect(19, {
      onEnd: (c) => c.finish(),
      onClose: (_c, why) => {
        closes.push(why);
        r.g.dom0.after(100n * MS, () => {
          c2 = r.host.connect(19, { onData: (_c2, d) => { second += d.length; }, onEnd: (c) => c.finish(), onClose: (_c2, w) => { closes.push(w); r.g.dom0.after(1000n * MS, refin); } }, {}, 40000);
        });
      },
    }, {}, 40000);
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.deepEqual(closes, ["done", "done"], "both connections closed normally");
  t.equal(second, 1000, "the second, on the same 4-tuple, got its 1000 bytes");
  const c = c2 as PeerConn | null;
  t.ok(finAcks.length === 1 && finAcks[0].tcp!.flags === TCP_ACK && c !== null && finAcks[0].tcp!.ack === u32(c.seqOf(c.total) + 1), "the retransmitted FIN got the ACK of it again (from the TIME-WAIT entry)");
  t.match(line(res, "tcp-services: connections"), /time-wait 0,/, "61 s later the TIME-WAIT entry is gone (the first's was ended early by the new SYN)");
});

// Reads the guest's "used N heap M" line from its memory service (port 13),
// after a full collection, and calls `cb` with the used bytes.
function heapUsed(r: Awaited<ReturnType<typeof tcpRig>>, cb: (used: number) => void): void {
  let text = "";
  r.host.connect(13, {
    onData: (_c, d) => { text += new TextDecoder().decode(d); },
    onEnd: (c) => c.finish(),
    onClose: () => cb(Number(/used (\d+)/.exec(text)?.[1] ?? -1)),
  });
}

test("tcp: 3000 connections one after another (echo, and a source the guest closes first: TIME-WAIT evictions past 1024) leave the heap as it was after the first 300 (memoryStats after a collection)", async (t) => {
  const r = await tcpRig({ sim: { cmdline: "source=1000", maxHypercalls: 1e9 } });
  const TOTAL = 3000, WARMUP = 300;
  let done = 0, intact = 0;
  let warm = -1, end = -1;
  const one = () => {
    if (done === WARMUP && warm < 0) return heapUsed(r, (u) => { warm = u; one(); });
    if (done === TOTAL) return heapUsed(r, (u) => { end = u; shutdown(r); });
    const check = new PatternCheck();
    const echo = done % 2 === 0;
    r.host.connect(echo ? 7 : 19, {
      onOpen: (c) => { if (echo) c.sendStream(1000, pattern, true); },
      onData: (_c, d) => check.take(d),
      onEnd: (c) => { if (!echo) c.finish(); },
      onClose: (_c, why) => {
        if (why === "done" && check.got === 1000 && check.bad === 0) intact++;
        done++;
        one();
      },
    });
  };
  whenReady(r, one);
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(intact, TOTAL, `all ${TOTAL} connections carried their 1000 bytes and closed normally`);
  t.ok(warm > 0, `heap used after ${WARMUP} connections: ${warm} bytes`);
  t.equal(end, warm, `heap used after ${TOTAL}: ${end} bytes, the same`);
  const cnt = counters(res);
  t.match(line(res, "tcp-services: connections"), /connections 0, slots [12],/, "one or two slots made, all free again");
  t.match(line(res, "tcp-services: connections"), /time-wait 1024,/, "the TIME-WAIT table is full (1024), no larger");
  t.ok(cnt.evicted >= TOTAL / 2 - 1024, `the oldest entries made room: ${cnt.evicted} evicted`);
  t.ok(cnt.established >= TOTAL, `established: ${cnt.established}`);
  t.deepEqual(r.host.violations, []);
});
