// Under real Xen: the smallest guest. examples/udp-echo built with
// memory = 4 (the least Xen's PV domain builder accepts: it maps the first
// 4 MiB) gets its wasm memory from 3 MiB (tools/host-interface.ts
// memoryBaseFor) and boots in 4 MiB as PV and as PVH (whose xl config then
// sets shadow_memory: libxl's default HAP pool is too small for a guest
// this size); dom0 pings it and checks 100 UDP echoes byte for byte.
// `make bench` measures the same floor and starts fleets of such guests.
import path from "node:path";
import { sizeXlLines } from "../../tools/devices.ts";
import { RigTest, buildImage, inMode, inModes, udpOk, dom0Tool } from "./rig-test.ts";

const IP = "10.0.0.44";

const rig = new RigTest("tsxen-xen-small-", async (tmp) => {
  const image = path.join(tmp, "udp-echo-4m.xen");
  // compiled for memory = 4 (a lower wasm memory base than the other images')
  await buildImage("examples/udp-echo/main.ts", image, { memoryMB: 4 });
  const udpcheck = dom0Tool("udpcheck", tmp);
  // the harness writes the xl config: the PVH run gets the lines tsxen build would add
  return inModes([{
    name: "udp-echo-4m", image, memoryMB: 4, files: { udpcheck }, timeoutSec: 60,
    xlExtra: [`vif = [ 'mac=00:16:3e:00:00:44,ip=${IP}' ]`],
    check: `phase=$1 name=$3 log=$4
[ "$phase" = running ] || exit 0
. /etc/tsxen/check-lib.sh
wait_console "udp-echo: ready" || exit 1
chmod +x ./udpcheck
rc=0
ping -c 3 -i 0.2 -W 2 ${IP} || rc=1
./udpcheck ${IP} 7 100 1472 || rc=1
xl shutdown -w "$name"
exit $rc
`,
  }]).map((sc) => ({ ...sc, xlExtra: [...sizeXlLines(sc.type ?? "pv", 4), ...(sc.xlExtra ?? [])] }));
});

rig.modeTest("a udp-echo guest built with memory = 4 boots in 4 MiB, answers ping and echoes UDP", async (t, mode) => {
  const s = await rig.scenario(t, inMode("udp-echo-4m", mode));
  t.ok(s?.checkOutput.includes("3 packets transmitted, 3 packets received, 0% packet loss"), "ping -c 3: no loss");
  t.equal(udpOk(t, s?.checkOutput ?? [], 100), 1, "100 datagrams echoed intact");
  t.equal(s?.checkRc, 0, "the dom0 check passed");
  t.equal(s?.reason, "poweroff", "xl shutdown powered it off");
  const heap = s?.console.find((l) => l.startsWith("udp-echo: heap"));
  t.match(heap ?? "", /, RAM 4 MiB$/, `the guest saw 4 MiB of RAM: ${heap}`);
});
