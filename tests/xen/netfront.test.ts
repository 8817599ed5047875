// Under real Xen: examples/udp-echo's netfront against Linux netback, on
// the rig's bridge (dom0 is 10.0.0.1/24 there). dom0 pings the guest and
// sends 1472 UDP datagrams of every size from 1 to 1472 bytes, checking
// every echo byte for byte (tests/xen/tools/udpcheck.c, built statically
// here and run in dom0) on its first vif, and answers on its second too
// (50 datagrams), as type = "pv" and as type = "pvh"; a jumbo-frame vif in
// a second scenario, as PV (MODE_INDEPENDENT in rig-test.ts).
import { RigTest, inMode, inModes, MODE_INDEPENDENT, udpOk, xenProbeImage, probeExtra, dom0Tool } from "./rig-test.ts";


// dom0 side: wait until the guest is ready, ping each address, run the UDP
// check against each (with its number of datagrams), then shut the guest
// down (its stats go to the console).
// With `jumbo`, dom0's side of the vif and the bridge get mtu 9000 and the
// datagrams are spread from 1473 to 8972 bytes (frames over several slots).
function dom0Script(targets: [string, number][], jumbo = false): string {
  return `phase=$1 name=$3 log=$4
[ "$phase" = running ] || exit 0
. /etc/tsxen/check-lib.sh
wait_console "udp-echo: ready" || exit 1
chmod +x ./udpcheck
${jumbo ? 'ip link set dev vif$(xl domid "$name").0 mtu 9000; ip link set dev xenbr0 mtu 9000' : ""}
rc=0
${targets.map(([ip, datagrams]) => `ping -c 5 -i 0.2 -W 2 ${jumbo ? "-s 8000 " : ""}${ip} || rc=1
./udpcheck ${ip} 7 ${datagrams} ${jumbo ? "8972 1473" : "1472"} || rc=1`).join("\n")}
${jumbo ? "ip link set dev xenbr0 mtu 1500" : ""}
t0=$(up_ms)
xl shutdown -w "$name"
echo "dom0: xl shutdown -w took $(( $(up_ms) - t0 )) ms"
exit $rc
`;
}

const rig = new RigTest("tsxen-xen-net-", async (tmp) => {
  const image = await xenProbeImage(tmp); // examples/udp-echo
  const udpcheck = dom0Tool("udpcheck", tmp);
  return [
    ...inModes([{
      name: "udp-echo", image, files: { udpcheck }, timeoutSec: 120,
      xlExtra: ["vif = [ 'mac=00:16:3e:00:00:02,ip=10.0.0.2', 'mac=00:16:3e:00:00:03,ip=10.0.0.3' ]", probeExtra("udp-echo")],
      check: dom0Script([["10.0.0.2", 1472], ["10.0.0.3", 50]]),
    }]),
    ...inModes([{
      name: "udp-echo-jumbo", image, files: { udpcheck }, timeoutSec: 90,
      xlExtra: ["vif = [ 'mac=00:16:3e:00:00:05,ip=10.0.0.5,mtu=9000' ]", probeExtra("udp-echo")],
      check: dom0Script([["10.0.0.5", 100]], true),
    }], MODE_INDEPENDENT),
  ];
});


const pingOk = (out: string[]) => out.filter((l) => /^5 packets transmitted, 5 packets received, 0% packet loss$/.test(l)).length;


rig.modeTest("netfront connects to netback and dom0 pings the guest with no loss", async (t, mode) => {
  const s = await rig.scenario(t, inMode("udp-echo", mode));
  t.ok(s?.console.includes("netfront 0: connected, mac 00:16:3e:00:00:02, ip 10.0.0.2"), "connected with the mac and ip from xl");
  t.equal(pingOk(s?.checkOutput ?? []), 2, "ping -c 5 of each address: 0% loss");
  const rtt = s?.checkOutput.find((l) => l.startsWith("round-trip"));
  if (rtt) t.comment(`ping ${rtt}`);
});

rig.modeTest("1472 UDP datagrams of 1..1472 bytes are all echoed intact", async (t, mode) => {
  const s = await rig.scenario(t, inMode("udp-echo", mode));
  t.equal(udpOk(t, s?.checkOutput ?? [], 1472), 1, "every datagram echoed, byte for byte");
  t.equal(s?.checkRc, 0, "the dom0 check passed");
  t.equal(s?.reason, "poweroff", "xl shutdown closed the vif and powered the guest off");
  const shut = s?.checkOutput.find((l) => l.startsWith("dom0: xl shutdown -w took"));
  if (shut) t.comment(shut);
  const stats = s?.console.find((l) => l.startsWith("udp-echo: vif 0: rx"));
  const m = /\(0 dropped\), tx \d+ \((\d+) dropped, 0 errors\).*udp in (\d+) out (\d+), malformed 0/.exec(stats ?? "");
  t.ok(m && m[2] === m[3] && Number(m[2]) >= 1472, `no RX drops or errors, every datagram received was answered: ${stats}`);
  // A TX drop is netfront's back-pressure (all 64 TX buffers of the queue
  // still in flight: netback answers late while dom0's one emulated CPU is
  // busy), and udpcheck then sends that datagram again. More drops than
  // retries would be echoes lost for another reason.
  const retries = Number(/^udpcheck: sent 1472, .* retries (\d+),/m.exec((s?.checkOutput ?? []).join("\n"))?.[1] ?? 0);
  t.ok(m && Number(m[1]) <= retries, `TX drops (${m?.[1]}) only as back-pressure, each datagram sent again (udpcheck retries: ${retries})`);
});

rig.modeTest("a guest with two vifs answers on both", async (t, mode) => {
  const s = await rig.scenario(t, inMode("udp-echo", mode));
  t.ok(s?.console.includes("netfront 1: connected, mac 00:16:3e:00:00:03, ip 10.0.0.3"), "the second vif connected with its own mac and ip");
  t.equal(pingOk(s?.checkOutput ?? []), 2, "both addresses answer ping");
  t.equal(udpOk(t, s?.checkOutput ?? [], 50), 1, "the second echoes 50 UDP datagrams intact (the first its 1472)");
  t.equal(s?.reason, "poweroff");
});

rig.modeTest("jumbo frames (vif mtu 9000): 8000-byte pings and UDP datagrams of 1473..8972 bytes go over several slots both ways", async (t, mode) => {
  const s = await rig.scenario(t, inMode("udp-echo-jumbo", mode));
  t.ok(s?.console.some((l) => /^netfront 0: 1 queue, split event channels, sg(, gso)?$/.test(l)), "sg negotiated with netback (and TX GSO: Linux's netback offers it)");
  t.equal(pingOk(s?.checkOutput ?? []), 1, "ping -s 8000: 0% loss");
  t.equal(udpOk(t, s?.checkOutput ?? [], 100), 1, "every jumbo datagram echoed intact");
  t.equal(s?.reason, "poweroff");
}, MODE_INDEPENDENT);
