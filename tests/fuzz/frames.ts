// The frame fuzzer: one udp-echo guest in the sim, fed mutated Ethernet,
// ARP, IPv4, ICMP and UDP frames through the sim netback (with feature-sg,
// so frames over several slots too). A case is one frame, built from a
// seed of its own (so any case replays alone). After every case:
//  - the guest did not trap or panic (the sim would have stopped);
//  - the vif is still connected (nothing a frame holds may break it);
//  - the guest's memory did not grow (after warm-up: no allocation per
//    frame, whatever the frame);
//  - exactly the vif's rings and buffers are granted to dom0: 2 rings and
//    64 RX buffers writable, 64 TX buffers read-only, nothing else;
//  - whatever the guest sent is well-formed: from its MAC, no longer than
//    the MTU allows, IPv4 and UDP/ICMP checksums right, to the sender;
//    ICMP only echo replies and destination unreachable about a datagram
//    from the address it goes to.
// Every `pingEvery` cases (and at the end) a ping must be answered.
import { SimGuest } from "../../sim/host.ts";
import { addVif, type Vif } from "../../sim/netback.ts";
import {
  NetPeer, arpRequestFrame, arpReplyFrame, pingFrame, udpFrame, ethernet, ipv4, udp, icmpEcho,
  BROADCAST_MAC, ETH_P_IPV4, ETH_P_ARP, IPPROTO_UDP, IPPROTO_ICMP, type Endpoint, type ParsedFrame,
} from "../../sim/netswitch.ts";
import * as N from "../../runtime/abi/netif.ts";
import * as G from "../../runtime/abi/grant_table.ts";
import * as XB from "../../runtime/abi/xenbus.ts";
import { startedGuest } from "../sim/helpers.ts";
import { Rng, caseSeed, type CampaignResult, type Failure } from "./support.ts";

const MS = 1_000_000n;
const GUEST: Endpoint = { mac: "00:16:3e:5a:00:00", ip: "10.0.0.2" };
const PEER: Endpoint = { mac: "00:16:3e:ee:00:00", ip: "10.0.0.1" };
const MTU = 1500;

// ---- building a case

function seedFrames(r: Rng): Uint8Array {
  const port = r.int(1, 65535);
  const data = r.bytes(r.int(0, 1472));
  switch (r.int(0, 9)) {
    case 0: return arpRequestFrame({ mac: r.mac(), ip: r.ip() }, r.next() < 0.5 ? GUEST.ip : r.ip());
    case 1: return arpReplyFrame({ mac: r.mac(), ip: r.next() < 0.5 ? PEER.ip : r.ip() }, GUEST);
    case 2: return pingFrame(PEER, GUEST, r.int(0, 65535), r.int(0, 65535), data);
    case 3: return udpFrame(PEER, GUEST, port, 7, data);
    case 4: return udpFrame({ mac: r.mac(), ip: r.ip() }, GUEST, port, r.int(0, 65535), data);
    case 5: return udpFrame(PEER, { mac: BROADCAST_MAC, ip: r.next() < 0.5 ? "255.255.255.255" : GUEST.ip }, port, 7, data);
    case 6: return ethernet(GUEST.mac, PEER.mac, ETH_P_IPV4, ipv4({ src: r.ip(), dst: GUEST.ip, proto: r.int(0, 255), payload: data }));
    case 7: return ethernet(GUEST.mac, r.mac(), ETH_P_IPV4, ipv4({ src: PEER.ip, dst: GUEST.ip, proto: IPPROTO_ICMP, payload: icmpEcho(r.int(0, 255), 1, 1, data) }));
    case 8: return ethernet(r.next() < 0.5 ? GUEST.mac : BROADCAST_MAC, PEER.mac, r.pick([ETH_P_ARP, ETH_P_IPV4, r.int(0, 65535)]), data);
    default: return ethernet(GUEST.mac, PEER.mac, ETH_P_IPV4, ipv4({ src: PEER.ip, dst: GUEST.ip, proto: IPPROTO_UDP, payload: udp(PEER.ip, GUEST.ip, port, 7, data) }));
  }
}

// Damage: flipped bits, random bytes at the header offsets that matter,
// truncation, extension, and (sometimes) a fixed-up IPv4 checksum so the
// damage gets past it.
function mutate(r: Rng, f: Uint8Array): Uint8Array {
  let out = f.slice();
  const hot = [0, 5, 6, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43];
  for (let n = r.int(0, 4); n > 0; n--) {
    switch (r.int(0, 4)) {
      case 0: if (out.length) out[r.int(0, out.length - 1)] ^= 1 << r.int(0, 7); break;
      case 1: { const at = r.pick(hot); if (at < out.length) out[at] = r.pick([0, 1, 0x45, 0x4f, 0x7f, 0x80, 0xff, r.int(0, 255)]); break; }
      case 2: out = out.subarray(0, r.int(0, out.length)); break;
      case 3: { const more = new Uint8Array(out.length + r.int(1, 3000)); more.set(out); more.fill(r.int(0, 255), out.length); out = more; break; }
      default: break;
    }
  }
  if (out.length >= 34 && out[12] === 0x08 && out[13] === 0 && r.next() < 0.7) {
    const hlen = Math.min((out[14] & 15) * 4, out.length - 14);
    out[24] = out[25] = 0;
    let s = 0;
    for (let i = 0; i + 1 < hlen; i += 2) s += (out[14 + i] << 8) | out[15 + i];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    const c = ~s & 0xffff;
    out[24] = c >> 8;
    out[25] = c & 0xff;
  }
  return out;
}

export function frameCase(seed: number): { frame: Uint8Array; flags: number; slotSize: number } {
  const r = new Rng(seed);
  const frame = r.next() < 0.9 ? mutate(r, seedFrames(r)) : r.bytes(r.int(0, 2000));
  const flags = r.pick([0, 0, N.NETRXF_data_validated, N.NETRXF_csum_blank, N.NETRXF_data_validated | N.NETRXF_csum_blank]);
  // A backend publishes a frame in at most XEN_NETIF_NR_SLOTS_MIN slots.
  const slotSize = Math.max(r.pick([4096, 4096, 1000, 333, 64]), Math.ceil(frame.length / N.XEN_NETIF_NR_SLOTS_MIN));
  return { frame, flags, slotSize };
}

// ---- checking what the guest did

// What the guest sent since the last look: every frame must be well-formed.
function checkSent(frames: ParsedFrame[]): string | null {
  for (const f of frames) {
    if (f.src !== GUEST.mac) return `sent a frame from ${f.src}`;
    if (f.raw.length > 14 + MTU) return `sent a ${f.raw.length}-byte frame (mtu ${MTU})`;
    if (f.arp) continue;
    if (!f.ip) return "sent a frame that is neither ARP nor a well-formed IPv4 packet";
    if (!f.ip.checksumOk) return "sent an IPv4 header with a bad checksum";
    if (f.ip.src !== GUEST.ip) return `sent an IPv4 packet from ${f.ip.src}`;
    if (f.ip.proto === IPPROTO_UDP && !f.udp?.checksumOk) return "sent a UDP datagram with a bad checksum or length";
    if (f.ip.proto === IPPROTO_ICMP && !(f.icmp?.checksumOk && (f.icmp.type === 0 || unreachableAbout(f)))) return "sent an ICMP message other than a correct echo reply or destination unreachable";
    if (f.ip.dst === "255.255.255.255" || f.ip.dst === "0.0.0.0") return `sent an IPv4 packet to ${f.ip.dst}`;
  }
  return null;
}

// An ICMP destination unreachable (protocol or port) quoting a datagram
// that came from the address it goes to and was for us.
function unreachableAbout(f: ParsedFrame): boolean {
  const icmp = f.icmp!;
  if (icmp.type !== 3 || (icmp.code !== 2 && icmp.code !== 3)) return false;
  const quoted = f.ip!.payload.subarray(8);
  if (quoted.length < 28 || quoted[0] >> 4 !== 4) return false;
  const src = [...quoted.subarray(12, 16)].join("."), dst = [...quoted.subarray(16, 20)].join(".");
  return src === f.ip!.dst && dst === GUEST.ip;
}

// The grant entries giving dom0 access: [writable, read-only].
function grantCounts(g: SimGuest): [number, number] {
  let rw = 0, ro = 0;
  for (let ref = G.GNTTAB_NR_RESERVED_ENTRIES; ref < g.hv.grants.nrEntries; ref++) {
    const e = g.hv.grants.readEntry(ref);
    if ((e.flags & G.GTF_type_mask) !== G.GTF_permit_access || e.domid !== 0) continue;
    if (e.flags & G.GTF_readonly) ro++;
    else rw++;
  }
  return [rw, ro];
}

// ---- the campaign

export interface FrameOptions {
  seed: number;
  cases: number;
  first?: number;        // the first case number (a replay runs one case)
  pingEvery?: number;    // default 2000
  onProgress?: (done: number) => void;
}

export async function fuzzFrames(o: FrameOptions): Promise<CampaignResult> {
  const g = await startedGuest("examples/udp-echo/main.ts", { maxHypercalls: Number.MAX_SAFE_INTEGER });
  const vif: Vif = addVif(g, { devid: 0, ip: GUEST.ip, mtu: MTU, features: { sg: true, splitEventChannels: true } });
  const peer = new NetPeer(g.dom0, vif, PEER);
  const first = o.first ?? 0;
  const pingEvery = o.pingEvery ?? 2000;
  const result: CampaignResult = { name: "frames", cases: 0, failures: [] };
  let baseMemory = 0;
  let seen = 0;
  let pings = 0;
  let i = 0;
  const fail = (c: number, why: string) => {
    result.failures.push({ campaign: "frames", seed: o.seed, caseNo: c, why } satisfies Failure);
    g.xenstore.write("/local/domain/1/control/shutdown", "poweroff");
  };
  const ping = (then: () => void) => {
    pings++;
    const seq = pings & 0xffff;
    peer.request(pingFrame(PEER, GUEST, 0xf0, seq, new Uint8Array(32)), (f) => f.icmp?.type === 0 && f.icmp.seq === seq, 50n * MS, (reply) => {
      if (!reply) return fail(first + i, "the guest stopped answering ping");
      then();
    });
  };
  const step = () => {
    if (i === o.cases) return ping(() => g.xenstore.write("/local/domain/1/control/shutdown", "poweroff"));
    const c = first + i;
    const { frame, flags, slotSize } = frameCase(caseSeed(o.seed, c));
    vif.inject(frame, { flags, slotSize, unchecked: true });
    // Checked once the guest has dealt with the frame and blocks again.
    g.hv.whenBlocked(() => {
      if (vif.state !== XB.XenbusStateConnected) return fail(c, `the vif went down (backend state ${vif.state})`);
      const mem = g.view().byteLength;
      if (i === 0 || c === first + 1000) baseMemory = mem;
      else if (i > 1000 && mem > baseMemory) return fail(c, `guest memory grew from ${baseMemory} to ${mem} bytes`);
      const [rw, ro] = grantCounts(g);
      if (rw !== 2 + 64 || ro !== 64) return fail(c, `dom0 has ${rw} writable and ${ro} read-only grants (want 66 and 64)`);
      const sent = peer.received.slice(seen);
      seen = peer.received.length;
      const bad = checkSent(sent);
      if (bad) return fail(c, bad);
      result.cases++;
      i++;
      if (o.onProgress && i % 100000 === 0) o.onProgress(i);
      if (i % pingEvery === 0) ping(step);
      else step();
    });
  };
  const start = () => (vif.state === XB.XenbusStateConnected ? g.dom0.after(MS, () => {
    peer.send(arpRequestFrame(PEER, GUEST.ip));
    g.dom0.after(MS, step);
  }) : g.dom0.after(MS, start));
  g.dom0.after(MS, start);
  const res = await g.run();
  if (res.reason !== "poweroff" || /trap:|panic:/.test(res.console)) {
    result.failures.push({ campaign: "frames", seed: o.seed, caseNo: first + i, why: `the guest ended with ${res.reason}: ${res.console.split("\n").filter((l) => /trap|panic/.test(l)).join(" / ")}` });
  }
  return result;
}
