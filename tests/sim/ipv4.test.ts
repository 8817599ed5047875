// IPv4 completeness against the sim peer (drivers/net/stack.ts,
// ipv4-reassembly.ts): ping -s 4000 (fragments in, fragments out), UDP
// datagrams over the MTU both ways, overlapping and oversized fragments,
// a flood of incomplete datagrams, ICMP destination unreachable and its
// rate limit, and no echo replies to broadcast or multicast.
import test from "tape";
import {
  ethernet, ipv4, ipv4Fragments, icmpEcho, udp, udpFrame, pingFrame, checksum,
  ETH_P_IPV4, IPPROTO_ICMP, IPPROTO_UDP, ICMP_ECHO_REQUEST, BROADCAST_MAC, type Endpoint, type ParsedFrame,
} from "../../sim/netswitch.ts";
import { MS, rig, whenConnected, introduce, requestShutdown, noTrap, pattern, equalBytes, type Rig } from "./net-rig.ts";

// Reassembles the guest's fragments (by IPv4 id) into whole payloads.
function reassemble(frames: ParsedFrame[], proto: number): Uint8Array[] {
  const byId = new Map<number, { parts: [number, Uint8Array][]; end: number }>();
  const whole: Uint8Array[] = [];
  for (const f of frames) {
    if (!f.ip || f.ip.proto !== proto) continue;
    const ff = f.ip.flagsFragment;
    if ((ff & 0x3fff) === 0) { whole.push(f.ip.payload); continue; }
    const id = new DataView(f.raw.buffer, f.raw.byteOffset + 14).getUint16(4);
    const e = byId.get(id) ?? { parts: [], end: -1 };
    const off = (ff & 0x1fff) * 8;
    e.parts.push([off, f.ip.payload]);
    if (!(ff & 0x2000)) e.end = off + f.ip.payload.length;
    byId.set(id, e);
    const have = e.parts.reduce((n, [, p]) => n + p.length, 0);
    if (e.end >= 0 && have === e.end) {
      const out = new Uint8Array(e.end);
      for (const [o, p] of e.parts) out.set(p, o);
      whole.push(out);
      byId.delete(id);
    }
  }
  return whole;
}

// Sends `frames` one after another, 1 ms apart, then calls `done` 20 ms after the last.
function sendAll(r: Rig, frames: Uint8Array[], done: () => void): void {
  let i = 0;
  const next = () => {
    if (i < frames.length) { r.peers[0].send(frames[i++]); r.g.dom0.after(MS / 10n, next); }
    else r.g.dom0.after(20n * MS, done);
  };
  next();
}

function fragmentedPing(from: Endpoint, to: Endpoint, id: number, data: Uint8Array, ipId: number): Uint8Array[] {
  return ipv4Fragments({ src: from.ip, dst: to.ip, proto: IPPROTO_ICMP, id: ipId, payload: icmpEcho(ICMP_ECHO_REQUEST, id, 1, data) }, 1480)
    .map((p) => ethernet(to.mac, from.mac, ETH_P_IPV4, p));
}

test("ipv4: ping -s 4000 arrives as 3 fragments and is answered in fragments; a 4000-byte UDP datagram is echoed in fragments", async (t) => {
  const r = await rig([{}]);
  const [peer, guest] = [r.peers[0], r.guests[0]];
  const data = pattern(4000, 1);
  const dgram = pattern(4000, 2);
  whenConnected(r, () => introduce(r, () => {
    const frames = [
      ...fragmentedPing(peer.me, guest, 77, data, 1000),
      ...ipv4Fragments({ src: peer.me.ip, dst: guest.ip, proto: IPPROTO_UDP, id: 1001, payload: udp(peer.me.ip, guest.ip, 5555, 7, dgram) }, 1480)
        .map((p) => ethernet(guest.mac, peer.me.mac, ETH_P_IPV4, p)),
    ];
    sendAll(r, frames, () => requestShutdown(r.g));
  }));
  const res = await r.g.run();
  noTrap(t, res);
  const out = peer.received.filter((f) => f.ip?.src === guest.ip);
  const pingFrags = out.filter((f) => f.ip!.proto === IPPROTO_ICMP);
  t.equal(pingFrags.length, 3, "the echo reply came as 3 fragments");
  t.ok(pingFrags.every((f) => f.raw.length <= 1514 && f.ip!.checksumOk), "each within the MTU, header checksums right");
  const reply = reassemble(out, IPPROTO_ICMP)[0];
  t.ok(reply && reply[0] === 0 && checksum(reply) === 0, "reassembled: an echo reply with a right checksum");
  t.ok(reply && equalBytes(reply.subarray(8), data), "carrying the 4000 bytes sent");
  const echo = reassemble(out, IPPROTO_UDP)[0];
  t.ok(echo && equalBytes(echo.subarray(8), dgram), "the 4000-byte UDP datagram came back whole (in fragments)");
  t.equal(out.filter((f) => f.ip!.proto === IPPROTO_UDP).length, 3, "as 3 fragments");
});

test("ipv4: overlapping fragments drop the datagram, an exact duplicate does not; a fragment past 65535 bytes is dropped; 1000 incomplete datagrams do not grow memory", async (t) => {
  const r = await rig([{}]);
  const [peer, guest] = [r.peers[0], r.guests[0]];
  const data = pattern(3000, 3);
  let mem0 = 0;
  whenConnected(r, () => introduce(r, () => {
    const a = fragmentedPing(peer.me, guest, 1, data, 2000);            // overlapping: the second fragment shifted back 8 bytes
    const second = ipv4({ src: peer.me.ip, dst: guest.ip, proto: IPPROTO_ICMP, id: 2000, flagsFragment: 0x2000 | (1472 >> 3), payload: new Uint8Array(1480) });
    const overlapping = [a[0], ethernet(guest.mac, peer.me.mac, ETH_P_IPV4, second), ...a.slice(1)];
    const b = fragmentedPing(peer.me, guest, 2, data, 2001);
    const duplicated = [b[0], b[1], b[1], b[2]];
    const death = ethernet(guest.mac, peer.me.mac, ETH_P_IPV4, ipv4({ src: peer.me.ip, dst: guest.ip, proto: IPPROTO_ICMP, id: 2002, flagsFragment: 65528 >> 3, payload: new Uint8Array(100) }));
    const incomplete = Array.from({ length: 1000 }, (_, i) => fragmentedPing(peer.me, guest, 3, data, 3000 + i)[0]);
    sendAll(r, [...overlapping, ...duplicated, death, ...incomplete.slice(0, 10)], () => {
      mem0 = r.g.view().byteLength;
      sendAll(r, incomplete.slice(10), () => {
        sendAll(r, fragmentedPing(peer.me, guest, 4, data, 9000), () => requestShutdown(r.g));
      });
    });
  }));
  const res = await r.g.run();
  noTrap(t, res);
  const replies = reassemble(peer.received.filter((f) => f.ip?.src === guest.ip), IPPROTO_ICMP).map((p) => new DataView(p.buffer, p.byteOffset).getUint16(4));
  t.notOk(replies.includes(1), "the datagram with overlapping fragments was dropped");
  t.ok(replies.includes(2), "the one with a duplicated fragment was answered");
  t.ok(replies.includes(4), "after 1000 incomplete datagrams (and a fragment past 65535 bytes), a fragmented ping is still answered");
  t.equal(r.g.view().byteLength, mem0, "guest memory did not grow");
});

test("ipv4: UDP to a closed port gets ICMP port unreachable quoting the datagram, at most 20 at once and 100 a second; an unknown protocol gets protocol unreachable", async (t) => {
  const r = await rig([{}]);
  const [peer, guest] = [r.peers[0], r.guests[0]];
  whenConnected(r, () => introduce(r, () => {
    const burst = Array.from({ length: 200 }, (_, i) => udpFrame(peer.me, guest, 6000 + i, 9999, pattern(20, i)));
    // 200 in 20 ms (0.1 ms apart), then one more 1 s later and an unknown protocol.
    sendAll(r, burst, () => r.g.dom0.after(1000n * MS, () => {
      peer.send(udpFrame(peer.me, guest, 7000, 9999, pattern(20, 0)));
      peer.send(ethernet(guest.mac, peer.me.mac, ETH_P_IPV4, ipv4({ src: peer.me.ip, dst: guest.ip, proto: 253, payload: pattern(30, 0) })));
      r.g.dom0.after(20n * MS, () => requestShutdown(r.g));
    }));
  }));
  const res = await r.g.run();
  noTrap(t, res);
  const icmp = peer.received.filter((f) => f.icmp?.type === 3);
  const ports = icmp.filter((f) => f.icmp!.code === 3);
  t.ok(ports.length >= 20 && ports.length <= 24, `port unreachables for the 200-datagram burst and the later one: ${ports.length} (burst 20, then 100/s)`);
  const q = ports[0]?.ip!.payload.subarray(8);
  t.ok(q && q.length === 28 && new DataView(q.buffer, q.byteOffset).getUint16(20) === 6000 && new DataView(q.buffer, q.byteOffset).getUint16(22) === 9999,
    "quoting the IPv4 header and the first 8 bytes (the UDP ports)");
  t.ok(ports.every((f) => f.icmp!.checksumOk && f.ip!.dst === peer.me.ip), "checksums right, sent to the datagram's source");
  t.ok(ports.some((f) => new DataView(f.ip!.payload.buffer, f.ip!.payload.byteOffset + 8).getUint16(20) === 7000), "one for the datagram a second later");
  t.equal(icmp.filter((f) => f.icmp!.code === 2).length, 1, "protocol unreachable for protocol 253");
});

test("ipv4: echo requests to 255.255.255.255, to a multicast group, or from a broadcast source are not answered; a unicast one is", async (t) => {
  const r = await rig([{}]);
  const [peer, guest] = [r.peers[0], r.guests[0]];
  whenConnected(r, () => introduce(r, () => {
    const req = (dstMac: string, dstIp: string, srcIp: string, id: number) =>
      ethernet(dstMac, peer.me.mac, ETH_P_IPV4, ipv4({ src: srcIp, dst: dstIp, proto: IPPROTO_ICMP, payload: icmpEcho(ICMP_ECHO_REQUEST, id, 1, pattern(32, id)) }));
    sendAll(r, [
      req(BROADCAST_MAC, "255.255.255.255", peer.me.ip, 1),
      req("01:00:5e:00:00:01", "224.0.0.1", peer.me.ip, 2),
      req(guest.mac, "224.0.0.1", peer.me.ip, 3),
      req(guest.mac, guest.ip, "255.255.255.255", 4),
      req(guest.mac, guest.ip, "224.0.0.9", 5),
      pingFrame(peer.me, guest, 6, 1, pattern(32, 6)),
    ], () => requestShutdown(r.g));
  }));
  const res = await r.g.run();
  noTrap(t, res);
  const ids = peer.received.filter((f) => f.icmp?.type === 0).map((f) => f.icmp!.id);
  t.deepEqual(ids, [6], "only the unicast echo request was answered");
});
