// Under real Xen: examples/udp-echo's netfront against Linux netback, on
// the rig's bridge (dom0 is 10.0.0.1/24 there). dom0 pings the guest and
// sends 1472 UDP datagrams of every size from 1 to 1472 bytes, checking
// every echo byte for byte (tests/xen/tools/udpcheck.c, built statically
// here and run in dom0); a guest with two vifs answers on both.
import path from "node:path";
import { execFileSync } from "node:child_process";
import { build } from "../../tools/build.ts";
import { runScenarios } from "../../tools/rig/harness.ts";
import { RigTest } from "./rig-test.ts";


// dom0 side: wait until the guest is ready, ping each address, run the UDP
// check against each, then shut the guest down (its stats go to the console).
// With `jumbo`, dom0's side of the vif and the bridge get mtu 9000 and the
// datagrams are spread from 1473 to 8972 bytes (frames over several slots).
function dom0Script(ips: string[], datagrams: number, jumbo = false): string {
  return `phase=$1 name=$3 log=$4
[ "$phase" = running ] || exit 0
i=0; until grep -q "udp-echo: ready" "$log"; do i=$((i+1)); [ $i -gt 300 ] && { echo "guest not ready"; exit 1; }; sleep 0.1; done
chmod +x ./udpcheck
${jumbo ? 'ip link set dev vif$(xl domid "$name").0 mtu 9000; ip link set dev xenbr0 mtu 9000' : ""}
rc=0
for ip in ${ips.join(" ")}; do
  ping -c 5 -W 2 ${jumbo ? "-s 8000 " : ""}$ip || rc=1
  ./udpcheck $ip 7 ${datagrams} ${jumbo ? "8972 1473" : "1472"} || rc=1
done
${jumbo ? "ip link set dev xenbr0 mtu 1500" : ""}
t0=$(awk '{ printf "%d", $1 * 1000 }' /proc/uptime)
xl shutdown -w "$name"
echo "dom0: xl shutdown -w took $(( $(awk '{ printf "%d", $1 * 1000 }' /proc/uptime) - t0 )) ms"
exit $rc
`;
}

const rig = new RigTest("tsxen-xen-net-", async (tmp) => {
  const image = path.join(tmp, "udp-echo.xen");
  const udpcheck = path.join(tmp, "udpcheck");
  await build({ entry: "examples/udp-echo/main.ts", output: image, log: () => {} });
  execFileSync("gcc", ["-static", "-O2", "-o", udpcheck, "tests/xen/tools/udpcheck.c"]);
  return runScenarios(
    [
      {
        name: "udp-echo", image, files: { udpcheck }, timeoutSec: 120,
        xlExtra: ["vif = [ 'mac=00:16:3e:00:00:02,ip=10.0.0.2' ]"],
        check: dom0Script(["10.0.0.2"], 1472),
      },
      {
        name: "udp-echo-2vif", image, files: { udpcheck }, timeoutSec: 90,
        xlExtra: ["vif = [ 'mac=00:16:3e:00:00:03,ip=10.0.0.3', 'mac=00:16:3e:00:00:04,ip=10.0.0.4' ]"],
        check: dom0Script(["10.0.0.3", "10.0.0.4"], 200),
      },
      {
        name: "udp-echo-jumbo", image, files: { udpcheck }, timeoutSec: 90,
        xlExtra: ["vif = [ 'mac=00:16:3e:00:00:05,ip=10.0.0.5,mtu=9000' ]"],
        check: dom0Script(["10.0.0.5"], 100, true),
      },
    ],
    { log: path.join(tmp, "serial.log") },
  );
});


const pingOk = (out: string[]) => out.filter((l) => /^5 packets transmitted, 5 packets received, 0% packet loss$/.test(l)).length;

rig.test("netfront connects to netback and dom0 pings the guest with no loss", async (t) => {
  const s = await rig.scenario(t, "udp-echo");
  t.ok(s?.console.includes("netfront 0: connected, mac 00:16:3e:00:00:02, ip 10.0.0.2"), "connected with the mac and ip from xl");
  t.equal(pingOk(s?.checkOutput ?? []), 1, "ping -c 5: 0% loss");
  const rtt = s?.checkOutput.find((l) => l.startsWith("round-trip"));
  if (rtt) t.comment(`ping ${rtt}`);
});

rig.test("1472 UDP datagrams of 1..1472 bytes are all echoed intact", async (t) => {
  const s = await rig.scenario(t, "udp-echo");
  t.ok(s?.checkOutput.includes("udpcheck: sent 1472, echoed 1472 intact, lost 0, retries 0, mismatched 0"), "every datagram echoed, byte for byte");
  t.equal(s?.checkRc, 0, "the dom0 check passed");
  t.equal(s?.reason, "poweroff", "xl shutdown closed the vif and powered the guest off");
  const shut = s?.checkOutput.find((l) => l.startsWith("dom0: xl shutdown -w took"));
  if (shut) t.comment(shut);
  const stats = s?.console.find((l) => l.startsWith("udp-echo: vif 0: rx"));
  t.match(stats ?? "", /\(0 dropped\), tx \d+ \(0 dropped, 0 errors\).*udp in 1472 out 1472, malformed 0/, stats);
});

rig.test("a guest with two vifs answers on both", async (t) => {
  const s = await rig.scenario(t, "udp-echo-2vif");
  t.ok(s?.console.some((l) => l.startsWith("netfront 0: connected")) && s?.console.some((l) => l.startsWith("netfront 1: connected")), "both vifs connected");
  t.equal(pingOk(s?.checkOutput ?? []), 2, "both addresses answer ping");
  t.equal(s?.checkOutput.filter((l) => l === "udpcheck: sent 200, echoed 200 intact, lost 0, retries 0, mismatched 0").length, 2, "both echo UDP");
  t.equal(s?.reason, "poweroff");
});

rig.test("jumbo frames (vif mtu 9000): 8000-byte pings and UDP datagrams of 1473..8972 bytes go over several slots both ways", async (t) => {
  const s = await rig.scenario(t, "udp-echo-jumbo");
  t.ok(s?.console.some((l) => /^netfront 0: 1 queue, split event channels, sg(, gso)?$/.test(l)), "sg negotiated with netback (and TX GSO: Linux's netback offers it)");
  t.equal(pingOk(s?.checkOutput ?? []), 1, "ping -s 8000: 0% loss");
  t.ok(s?.checkOutput.includes("udpcheck: sent 100, echoed 100 intact, lost 0, retries 0, mismatched 0"), "every jumbo datagram echoed intact");
  t.equal(s?.reason, "poweroff");
});
