// The DHCP client (drivers/net/dhcp.ts) against our sim DHCP server
// (sim/dhcp-server.ts): the four-message exchange and what each message
// carries (RFC 2131 §4.3-4.4), the address in use (TCP on it), renewal at
// T1, rebinding at T2, expiry, a NAK, retransmission backoff, and replies
// that are not for us or not usable.
import test from "tape";
import { DhcpServer, build, DISCOVER, OFFER, REQUEST, ACK, type DhcpMessage } from "../../sim/dhcp-server.ts";
import { pattern, patternByte } from "../../sim/tcp-peer.ts";
import { BROADCAST_MAC } from "../../sim/netswitch.ts";
import { tcpRig, whenLogged, shutdown, MS, SEC, type TcpRig } from "./tcp-rig.ts";
import { noTrap } from "./net-rig.ts";
import { willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/tcp-services.ts");

async function dhcpRig(leaseSeconds = 3600, guestIp = "10.0.0.50"): Promise<{ r: TcpRig; server: DhcpServer }> {
  const r = await tcpRig({ vif: { ip: undefined }, guestIp });
  const server = new DhcpServer(r.link, r.peer, () => r.g.clock.now(), { leaseSeconds });
  return { r, server };
}

const secs = (m: DhcpMessage, from: bigint) => Number((m.at - from) / MS) / 1000;

test("dhcp: DISCOVER, OFFER, REQUEST, ACK as RFC 2131 says; the address, mask and router are used: TCP to it works", async (t) => {
  const { r, server } = await dhcpRig();
  let echoed = 0;
  whenLogged(r, "tcp-services: ready on 10.0.0.50", () => {
    r.host.announce();
    r.g.dom0.after(MS, () => r.host.connect(7, {
      onOpen: (c) => c.sendStream(5000, pattern, true),
      onData: (_c, d) => { for (const b of d) if (b === patternByte(echoed)) echoed++; },
      onClose: () => shutdown(r),
    }));
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.match(res.console, /dhcp: vif 0: bound 10\.0\.0\.50\/24 router 10\.0\.0\.1 from 10\.0\.0\.1, lease 3600 s/, "bound, and said so");
  const [d, q] = server.seen;
  t.ok(d && d.type === DISCOVER && d.srcIp === "0.0.0.0" && d.dstIp === "255.255.255.255" && d.dstMac === BROADCAST_MAC, "DISCOVER from 0.0.0.0 to broadcast");
  t.ok(d && d.flags === 0x8000 && d.ciaddr === "0.0.0.0" && d.chaddr === r.vif.mac, "with the broadcast flag, no ciaddr, our MAC");
  const params = [...(d?.options.get(55) ?? [])];
  t.ok([1, 3, 51].every((p) => params.includes(p)), `asking for mask, router and lease time (${params})`);
  t.deepEqual([...(d?.options.get(61) ?? [])], [1, 0x00, 0x16, 0x3e, 0x5a, 0x00, 0x00], "client identifier: type 1 + MAC");
  t.ok(q && q.type === REQUEST && q.xid === d.xid && q.dstIp === "255.255.255.255", "REQUEST broadcast, same xid");
  t.deepEqual([...(q?.options.get(50) ?? [])], [10, 0, 0, 50], "requested address: the offered one");
  t.deepEqual([...(q?.options.get(54) ?? [])], [10, 0, 0, 1], "server identifier: the offering server's");
  t.equal(echoed, 5000, "TCP to the DHCP address echoed 5000 bytes");
});

test("dhcp: renewal at T1 (unicast to the server), rebinding at T2 (broadcast) when the server ignores the renewal, expiry when nobody answers, then a new lease", async (t) => {
  const { r, server } = await dhcpRig(60);
  let boundAt = 0n;
  whenLogged(r, "dhcp: vif 0: bound", () => {
    boundAt = r.g.clock.now();
    server.ignoreUnicast = true;            // the renewal at T1 goes unanswered
    r.g.dom0.after(55n * SEC, () => { server.silent = true; });                      // after the rebind: silence
    r.g.dom0.after(170n * SEC, () => { server.silent = false; server.ignoreUnicast = false; server.forgetLeases(); });
    r.g.dom0.after(300n * SEC, () => shutdown(r));
  });
  const res = await r.g.run();
  noTrap(t, res);
  const after = server.seen.filter((m) => m.at > boundAt);
  const renew = after[0];
  t.ok(renew && renew.type === REQUEST && Math.abs(secs(renew, boundAt) - 30) < 0.1, `renewing at T1 = 30 s (${renew && secs(renew, boundAt)} s)`);
  t.ok(renew && renew.ciaddr === "10.0.0.50" && renew.dstIp === "10.0.0.1" && renew.srcIp === "10.0.0.50" && !renew.options.has(50) && !renew.options.has(54),
    "unicast to the server, ciaddr set, no requested address or server id");
  const rebind = after.find((m) => m.dstIp === "255.255.255.255");
  t.ok(rebind && Math.abs(secs(rebind, boundAt) - 52.5) < 0.1 && rebind.ciaddr === "10.0.0.50", `rebinding at T2 = 52.5 s, broadcast (${rebind && secs(rebind, boundAt)} s)`);
  t.match(res.console, /dhcp: vif 0: renewed 10\.0\.0\.50\/24/, "rebound: the lease renewed");
  t.match(res.console, /dhcp: vif 0: lease of 10\.0\.0\.50 expired/, "with nobody answering, the lease expired and the address went");
  t.match(res.console, /dhcp: vif 0: bound 10\.0\.0\.51\/24/, "then a new lease (the server handed out another address)");
});

test("dhcp: a NAK to a renewal sends the client back to DISCOVER; DISCOVERs back off 4, 8, 16, 32, 64 s (±1 s) while nobody answers", async (t) => {
  const { r, server } = await dhcpRig(20);
  let boundAt = 0n;
  whenLogged(r, "dhcp: vif 0: bound", () => {
    boundAt = r.g.clock.now();
    server.nakNext = true;
    r.g.dom0.after(11n * SEC, () => { server.silent = true; });
    r.g.dom0.after(200n * SEC, () => { server.silent = false; });
    r.g.dom0.after(260n * SEC, () => shutdown(r));
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.match(res.console, /dhcp: vif 0: NAK from 10\.0\.0\.1 \(renewing\)/, "the NAK was heard");
  // The first DISCOVER after the bind follows the NAK (and is answered); the
  // ones the silent server ignores come after the second lease expired.
  const discovers = server.seen.filter((m) => m.at > boundAt && m.type === DISCOVER).slice(1);
  const gaps = discovers.slice(1).map((m, i) => secs(m, discovers[i].at));
  const want = [4, 8, 16, 32, 64];
  t.ok(gaps.length >= 5 && want.every((w, i) => Math.abs(gaps[i] - w) <= 1.001), `gaps ${gaps.map((g) => g.toFixed(2)).join(", ")} s`);
  t.ok(res.console.split("\n").filter((l) => /dhcp: vif 0: bound 10\.0\.0\.50/.test(l)).length >= 2, "bound again once the server answered");
});

test("dhcp: replies that are not for us or not usable are ignored (wrong xid, other MAC, unusable address, truncated options, no server id)", async (t) => {
  const { r, server } = await dhcpRig();
  server.silent = true;
  let forged = 0;
  const forger = { mac: "00:16:3e:66:66:66", ip: "10.0.0.66" };
  r.link.attach(() => {
    const d = server.seen.find((m) => m.type === DISCOVER);
    if (!d || forged > 0) return;
    forged++;
    const opt = (type: number): [number, number[]][] => [[53, [type]], [54, [10, 0, 0, 66]], [51, [0, 0, 14, 16]]];
    const to = { mac: BROADCAST_MAC, ip: "255.255.255.255" };
    r.g.dom0.after(MS, () => {
      server.send(to, build(2, d.xid + 1, 0x8000, "0.0.0.0", "10.0.0.99", forger.ip, d.chaddr, opt(OFFER)), forger);
      server.send(to, build(2, d.xid, 0x8000, "0.0.0.0", "10.0.0.98", forger.ip, "00:16:3e:01:02:03", opt(OFFER)), forger);
      server.send(to, build(2, d.xid, 0x8000, "0.0.0.0", "255.255.255.255", forger.ip, d.chaddr, opt(OFFER)), forger);
      server.send(to, build(2, d.xid, 0x8000, "0.0.0.0", "127.0.0.1", forger.ip, d.chaddr, opt(OFFER)), forger);
      server.send(to, build(2, d.xid, 0x8000, "0.0.0.0", "10.0.0.97", forger.ip, d.chaddr, [[53, [OFFER]]]), forger);
      const truncated = build(2, d.xid, 0x8000, "0.0.0.0", "10.0.0.96", forger.ip, d.chaddr, opt(OFFER));
      truncated[truncated.length - 1] = 0x33; truncated[truncated.length - 2] = 200;   // an option running past the end
      server.send(to, truncated, forger);
      server.send(to, build(2, d.xid, 0x8000, "0.0.0.0", "10.0.0.95", forger.ip, d.chaddr, opt(ACK)), forger);  // an ACK while selecting
      r.g.dom0.after(MS, () => { server.silent = false; });
    });
  });
  whenLogged(r, "dhcp: vif 0: bound", () => r.g.dom0.after(MS, () => shutdown(r)));
  const res = await r.g.run();
  noTrap(t, res);
  t.match(res.console, /dhcp: vif 0: bound 10\.0\.0\.50\/24 router 10\.0\.0\.1 from 10\.0\.0\.1/, "bound from the real server, to its address");
  t.notOk(/10\.0\.0\.9[5-9]|10\.0\.0\.66/.test(res.console.split("\n").filter((l) => l.startsWith("dhcp:")).join("\n")), "none of the forged addresses or servers used");
  const requests = server.seen.filter((m) => m.type === REQUEST);
  t.ok(requests.length >= 1 && [...requests[0].options.get(54)!].join(".") === "10.0.0.1", "the REQUEST went to the real server");
});
