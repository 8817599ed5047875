// TCP against a hostile or broken peer (RFC 5961 and the bounds in
// drivers/net/tcp.ts): segments outside the window, blind RST, SYN and data
// injection, a SYN flood of 100,000, a peer that keeps its window shut
// forever, a peer that never acknowledges. Each: no trap, the guest's memory
// does not grow, and what should survive does.
import test from "tape";
import { pattern, patternByte, type PeerConn } from "../../sim/tcp-peer.ts";
import { TCP_SYN, TCP_ACK, TCP_RST, TCP_PSH, type ParsedFrame } from "../../sim/netswitch.ts";
import { tcpRig, whenReady, shutdown, line, counters, guestMemory, MS, SEC, type TcpRig } from "./tcp-rig.ts";
import { noTrap } from "./net-rig.ts";

const u32 = (n: number) => n >>> 0;

// The guest's RCV.NXT for connection `c` (what it expects from us next).
const guestRcvNxt = (c: PeerConn) => c.seqOf(c.sndNxt);
const guestSndNxt = (c: PeerConn) => u32(c.irs + 1 + c.rcvNxt);

// Sends `data` on `c` as a plain segment (bypassing its sender), with `seq` and `ack` as given.
function inject(r: TcpRig, c: PeerConn, seq: number, ack: number, flags: number, data?: Uint8Array): void {
  r.host.transmit({ srcPort: c.localPort, dstPort: c.remotePort, seq: u32(seq), ack: u32(ack), flags, window: 65535, data, options: { ts: [Number(r.g.clock.now() / MS) >>> 0, c.tsRecent] } });
}

test("tcp hostile: out-of-window data, acknowledgments of unsent data and blind RST/SYN injection are refused with (challenge) ACKs, rate-limited; the connection carries on; only an exact RST resets it", async (t) => {
  const r = await tcpRig();
  const echoed: number[] = [];
  const fromGuest: ParsedFrame[] = [];
  let closed = "";
  let c: PeerConn | null = null;
  r.host.onSegment = (f) => fromGuest.push(f);
  const steps: [string, () => void][] = [];
  let step = 0;
  const next = () => { if (step < steps.length) { const [, fn] = steps[step++]; fn(); r.g.dom0.after(50n * MS, next); } };
  whenReady(r, () => {
    c = r.host.connect(7, {
      onOpen: () => r.g.dom0.after(10n * MS, next),
      onData: (_c, d) => echoed.push(...d),
      onClose: (_c, why) => { closed = why; },
    });
  });
  const marks: Record<string, number> = {};
  const mark = (name: string) => { marks[name] = fromGuest.length; };
  const since = (name: string) => fromGuest.slice(marks[name]);
  const conn = () => c!;
  steps.push(
    ["hello", () => { conn().sendStream(5, (o, n) => new TextEncoder().encode("hello").subarray(o, o + n), false); }],
    ["data far out of the window", () => { mark("oow"); inject(r, conn(), guestRcvNxt(conn()) + 0x40000000, guestSndNxt(conn()), TCP_ACK | TCP_PSH, new TextEncoder().encode("EVIL1")); }],
    ["data acknowledging what the guest never sent", () => { mark("badack"); inject(r, conn(), guestRcvNxt(conn()), guestSndNxt(conn()) + 1_000_000, TCP_ACK | TCP_PSH, new TextEncoder().encode("EVIL2")); }],
    ["an RST inside the window, not at RCV.NXT", () => { mark("rst"); inject(r, conn(), guestRcvNxt(conn()) + 1000, 0, TCP_RST); }],
    ["a SYN inside the window", () => { mark("syn"); inject(r, conn(), guestRcvNxt(conn()) + 10, 0, TCP_SYN); }],
    ["an RST outside the window", () => { mark("rst-far"); inject(r, conn(), guestRcvNxt(conn()) + 0x70000000, 0, TCP_RST); }],
    ["3000 in-window RSTs in 30 ms", () => {
      mark("storm");
      for (let k = 0; k < 3000; k++) r.g.dom0.after(BigInt(Math.floor(k / 100)) * MS, () => inject(r, conn(), guestRcvNxt(conn()) + 1 + (k % 1000), 0, TCP_RST));
    }],
    ["more data, normally", () => { mark("after"); conn().sendStream(10, (o, n) => new TextEncoder().encode("helloworld").subarray(o, o + n), false); }],
    ["the exact RST", () => { mark("exact"); inject(r, conn(), guestRcvNxt(conn()), 0, TCP_RST); }],
    ["data after the reset", () => { mark("dead"); inject(r, conn(), guestRcvNxt(conn()), guestSndNxt(conn()), TCP_ACK | TCP_PSH, new TextEncoder().encode("late")); }],
    ["stop", () => shutdown(r)],
  );
  const res = await r.g.run();
  noTrap(t, res);
  const text = new TextDecoder().decode(new Uint8Array(echoed));
  t.equal(text, "helloworld", "only the peer's own data was echoed (no EVIL bytes)");
  const acks = (name: string) => since(name).filter((f) => f.tcp!.flags === TCP_ACK && f.tcp!.data.length === 0);
  t.ok(acks("oow").length >= 1 && acks("oow")[0].tcp!.ack !== 0, "out-of-window data: answered with an ACK of what the guest has");
  t.ok(acks("badack").length >= 1, "data acknowledging unsent data: dropped, answered with an ACK (RFC 5961 §5)");
  t.ok(acks("rst").length >= 1, "an in-window RST: a challenge ACK (RFC 5961 §3)");
  t.ok(acks("syn").length >= 1, "an in-window SYN: a challenge ACK (RFC 5961 §4)");
  t.equal(since("rst-far").filter((f) => marks["storm"] !== undefined && fromGuest.indexOf(f) < marks["storm"]).length, 0, "an out-of-window RST: ignored silently");
  t.ok(since("dead").some((f) => f.tcp!.flags & TCP_RST), "after the exact RST the connection is gone: our next segment gets a reset");
  const cnt = counters(res);
  t.equal(cnt["resets received"], 1, "one reset taken, the exact one");
  const [, challenges, limited] = (/challenge acks (\d+) limited (\d+)/.exec(res.console) ?? [0, -1, -1]).map(Number);
  t.ok(challenges >= 2 && challenges <= 1100, `challenge ACKs: ${challenges} (1000 at once at most, then 1000 a second)`);
  t.ok(limited >= 3000 - 1100, `challenge ACKs not sent (RFC 5961 §7 rate limit): ${limited}`);
  t.ok(cnt["bad acks"] >= 1 && cnt["out of window"] >= 1, "counted as bad ACK and out of window");
  t.match(res.console, /tcp-services: echo \d+ reset by peer/, "the app heard onClose(reset by peer)");
  t.equal(closed, "reset", "the peer's connection was reset by the guest's answer to data after the reset");
});

test("tcp hostile: a SYN flood of 100,000 from spoofed ports and addresses: answered with SYN cookies past the backlog, a real client still connects, memory does not grow", async (t) => {
  const r = await tcpRig({ sim: { cmdline: "backlog=32", maxHypercalls: 1e9 } });
  const FLOOD = 100_000, PER_TICK = 40, TICK = 200_000n;
  let sent = 0;
  let synAcks = 0;
  let memAfterWarmup = 0;
  let echoed = 0, got = 0;
  let clientDone = "";
  let rngState = 12345;
  const rnd = () => { rngState ^= rngState << 13; rngState >>>= 0; rngState ^= rngState >>> 17; rngState ^= rngState << 5; rngState >>>= 0; return rngState; };
  r.host.onSegment = (f) => { if ((f.tcp!.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) synAcks++; };
  const flood = () => {
    for (let i = 0; i < PER_TICK && sent < FLOOD; i++, sent++) {
      const fromPeer = rnd() & 1;
      const src = fromPeer ? r.peer : { mac: r.peer.mac, ip: `10.0.0.${3 + (rnd() % 250)}` };
      r.link.send(tcpSynFrame(src, r.guest, 1024 + (rnd() % 60000), rnd(), rnd() & 2 ? 1460 : undefined));
    }
    if (sent === 1000) memAfterWarmup = guestMemory(r);
    if (sent === 50_000) {
      // A real client in the middle of the flood.
      const c = r.host.connect(7, {
        onOpen: (pc) => pc.sendStream(10_000, pattern, true),
        onData: (_c, d) => { for (let i = 0; i < d.length; i++) if (d[i] === patternByte(got + i)) echoed++; got += d.length; },
        onClose: (_c, why) => { clientDone = why; },
      });
      void c;
    }
    if (sent < FLOOD) r.g.dom0.after(TICK, flood);
    else r.g.dom0.after(90n * SEC, () => shutdown(r));   // then the half-open ones time out
  };
  whenReady(r, flood);
  const res = await r.g.run();
  noTrap(t, res);
  t.equal(sent, FLOOD, "100,000 SYNs sent");
  const cnt = counters(res);
  t.ok(cnt["cookies sent"] > 90_000, `SYN cookies sent: ${cnt["cookies sent"]}`);
  t.ok(cnt["passive opens"] < 2000, `half-open connections made (bounded by the backlog while it is full): ${cnt["passive opens"]}`);
  t.ok(synAcks > 40_000, `SYN-ACKs reached the spoofed peer address: ${synAcks}`);
  t.equal(echoed, 10_000, "the real client's 10,000 bytes were echoed intact mid-flood");
  t.equal(clientDone, "done", "and its connection closed normally");
  t.ok(cnt.accepted >= 1, `its handshake completed through a cookie (${cnt.accepted} accepted)`);
  t.ok(memAfterWarmup > 0 && guestMemory(r) === memAfterWarmup, `guest memory after 1,000 SYNs ${memAfterWarmup}, after 100,000 ${guestMemory(r)}`);
  t.match(line(res, "tcp-services: connections"), /connections 0, slots \d+,/, "every half-open connection timed out and gave its slot back");
  t.ok(Number(/slots (\d+)/.exec(line(res, "tcp-services: connections"))?.[1]) <= 34, "slots made: at most the backlog and the client");
});

test("tcp hostile: a peer that keeps its window shut forever gets window probes with backoff, for 30 minutes, and the connection stays; memory does not grow", async (t) => {
  const r = await tcpRig({ sim: { cmdline: "source=100000" } });
  let mem0 = 0;
  let peer: PeerConn | null = null;
  whenReady(r, () => {
    peer = r.host.connect(19, {}, { zeroWindow: true });
    r.g.dom0.after(60n * SEC, () => { mem0 = guestMemory(r); });
    r.g.dom0.after(1800n * SEC, () => shutdown(r));
  });
  const res = await r.g.run();
  noTrap(t, res);
  const cnt = counters(res);
  t.ok(cnt["window probes"] >= 25 && cnt["window probes"] <= 60, `window probes in 30 minutes: ${cnt["window probes"]} (backing off to one a minute)`);
  t.match(line(res, "tcp-services: connections"), /connections 1,/, "the connection is still there (a peer that answers probes is never given up on)");
  t.equal((peer as PeerConn | null)!.stats.bytesIn, 0, "no data went past the closed window");
  t.ok(mem0 > 0 && guestMemory(r) === mem0, "memory did not grow");
});

test("tcp hostile: a peer that never acknowledges: retransmissions back off, then the connection times out and its slot is freed", async (t) => {
  const r = await tcpRig({ sim: { cmdline: "source=1000000" } });
  let mem0 = 0;
  let retransmitted = 0;
  let last = 0n;
  const gaps: number[] = [];
  whenReady(r, () => {
    const c = r.host.connect(19, {}, { neverAck: true });
    r.host.onSegment = (f) => {
      if (f.tcp!.srcPort !== 19 || f.tcp!.data.length === 0 || u32(f.tcp!.seq) !== u32(c.irs + 1)) return;
      retransmitted++;
      const now = r.g.clock.now();
      if (last) gaps.push(Number((now - last) / MS));
      last = now;
    };
    r.g.dom0.after(5n * SEC, () => { mem0 = guestMemory(r); });
    r.g.dom0.after(600n * SEC, () => shutdown(r));
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.match(res.console, /tcp-services: source \d+ timed out after 65536 bytes/, "the app heard onClose(timed out), with the send buffer (64 KiB) written");
  t.equal(retransmitted, 13, "the first segment went out 13 times (12 retransmissions)");
  t.ok(gaps.every((g, i) => i === 0 || g >= gaps[i - 1]), `the gaps only grow: ${gaps.join(", ")} ms`);
  t.ok(gaps[gaps.length - 1] <= 60_000 + 100, "capped at 60 s");
  t.match(line(res, "tcp-services: connections"), /connections 0,/, "the slot is free");
  t.ok(mem0 > 0 && guestMemory(r) === mem0, "memory did not grow");
});

test("tcp hostile: 600 segments each beyond a hole: at most 16 out-of-order ranges are held, the rest dropped; once the holes fill, the stream is intact; memory does not grow", async (t) => {
  const r = await tcpRig();
  const HOLES = 600, STRIDE = 100, PIECE = 10;   // bytes [100k, 100k+10) for k = 1..600: 60 KB, inside the 64 KiB window
  let mem0 = 0;
  let sackBlocksSeen = 0;
  r.host.onSegment = (f) => { sackBlocksSeen = Math.max(sackBlocksSeen, f.tcp!.sack.length); };
  whenReady(r, () => {
    const c = r.host.connect(9, {
      onOpen: (pc) => {
        mem0 = guestMemory(r);
        // 20 a millisecond (a burst of 600 would overflow the link's queue and the vif's ring).
        for (let k = 1; k <= HOLES; k++) {
          r.g.dom0.after(BigInt(Math.floor(k / 20)) * MS, () => inject(r, pc, pc.seqOf(k * STRIDE), guestSndNxt(pc), TCP_ACK, pattern(k * STRIDE, PIECE)));
        }
        // Then the whole stream, in order, from the start (our sender knows nothing of the injected pieces).
        r.g.dom0.after(200n * MS, () => pc.sendStream(STRIDE * (HOLES + 1), pattern, true));
      },
      onEnd: (pc) => pc.finish(),
      onClose: () => r.g.dom0.after(10n * MS, () => shutdown(r)),
    });
    void c;
  });
  const res = await r.g.run();
  noTrap(t, res);
  const cnt = counters(res);
  t.equal(cnt["out of order"], 16, `held out of order: ${cnt["out of order"]} segments (the range table holds 16)`);
  t.equal(cnt["dropped out of order"], HOLES - 16, `dropped: ${cnt["dropped out of order"]} (no range left for them)`);
  t.ok(sackBlocksSeen >= 1 && sackBlocksSeen <= 4, `the guest's ACKs carried SACK blocks for what it held (up to ${sackBlocksSeen} in one)`);
  t.match(res.console, new RegExp(`tcp-services: sink \\d+: ${STRIDE * (HOLES + 1)} bytes, crc [0-9a-f]+, 0 off-pattern`), "the sink got the whole stream, every byte as sent");
  t.ok(mem0 > 0 && guestMemory(r) === mem0, "memory did not grow");
});

function tcpSynFrame(from: { mac: string; ip: string }, to: { mac: string; ip: string }, srcPort: number, seq: number, mss?: number): Uint8Array {
  return tcpFrameOf(from, to, { srcPort, dstPort: 7, seq, flags: TCP_SYN, window: 65535, options: mss ? { mss } : undefined });
}

import { tcpFrame as tcpFrameOf } from "../../sim/netswitch.ts";
