// Under real Xen, one rig boot: the libvirt domain `tsxen build --libvirt`
// writes (PV kernel, cmdline, memory, a vif, a disk) started with
// `virsh -c xen:///system create` in dom0 (libvirtd 9.0 with its libxl
// driver, from the rig's libvirt tree) and stopped with `virsh shutdown`;
// meanwhile the host reaches it through the rig's port forwards (QEMU's user
// network on xenbr0): UDP to the guest's echo port, and TCP to a listener
// in dom0 (the guest has no TCP yet, so TCP is checked at the plumbing
// level). The disk is a host file QEMU gives dom0 (/dev/tsxen-disk0); what
// the guest writes must be in that file afterwards.
import fs from "node:fs";
import path from "node:path";
import dgram from "node:dgram";
import net from "node:net";
import { build } from "../../tools/build.ts";
import { prepareRig, runScenarios } from "../../tools/rig/harness.ts";
import { parseVif } from "../../tools/devices.ts";
import { RigTest } from "./rig-test.ts";

const host = { udp: "", tcp: "", udpPort: 0, tcpPort: 0 };

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function udpRoundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    const timer = setTimeout(() => { s.close(); resolve("(no reply)"); }, 10_000);
    s.on("message", (m) => { clearTimeout(timer); s.close(); resolve(m.toString()); });
    s.send(text, port, "127.0.0.1");
  });
}

function tcpRoundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const c = net.connect(port, "127.0.0.1", () => c.write(text));
    const timer = setTimeout(() => { c.destroy(); resolve(got || "(no reply)"); }, 10_000);
    c.on("data", (d) => {
      got += d;
      if (got.length >= text.length) { clearTimeout(timer); c.end(); resolve(got); }
    });
    c.on("error", (e) => { clearTimeout(timer); resolve(`(error: ${e.message})`); });
  });
}

// dom0, while the guest runs: libvirt's view of it, ping, then (once the
// host's last datagram arrived) `virsh shutdown`.
const CHECK = `phase=$1 name=$3 log=$4
[ "$phase" = running ] || exit 0
wait_for() { i=0; until grep -q "$1" "$log"; do i=$((i+1)); [ $i -gt 600 ] && { echo "dom0: no '$1' in the console"; return 1; }; sleep 0.1; done; }
wait_for "devices: ready" || exit 1
virsh -c xen:///system domstate "$name"
virsh -c xen:///system dumpxml "$name" | grep -E "<(kernel|cmdline|mac|ip|source)[ >]"
ping -c 3 -W 2 10.0.0.2 | grep "packets transmitted"
wait_for "devices: datagram host-done" || exit 1
virsh -c xen:///system shutdown "$name"
`;

const rig = new RigTest("tsxen-xen-devices-", async (tmp) => {
  const image = path.join(tmp, "devices.xen");
  const disk = path.join(tmp, "disk.img");
  fs.writeFileSync(disk, Buffer.alloc(1 << 20));
  const built = await build({
    entry: "tests/apps/devices.ts", output: image, memoryMB: 40, log: () => {}, libvirt: true,
    devices: { vifs: [parseVif("", 0)], disks: [{ path: "/dev/tsxen-disk0", readOnly: false, vdev: "xvda" }], extra: "hello=libvirt" },
  });
  host.udpPort = await freePort();
  host.tcpPort = await freePort();
  const paths = await prepareRig({ libvirt: true });
  return runScenarios(
    [{
      name: "devices", image, timeoutSec: 120, files: { "devices.xml": built.libvirtXml! },
      // dom0's TCP echo listener, the far end of the TCP forward
      setup: "(busybox nc -l -p 8000 -e /bin/cat </dev/null >/dev/null 2>&1 &)\n",
      // the image is in the scenario dir here; preserve: the harness reads the shutdown reason of the stopped domain
      create: `sed -i "s|<kernel>.*</kernel>|<kernel>$PWD/devices.xen</kernel>|; s|<on_poweroff>destroy<|<on_poweroff>preserve<|" devices.xml
libvirt-start || exit 1
virsh -c xen:///system create devices.xml
`,
      check: CHECK,
    }],
    {
      rig: paths,
      log: path.join(tmp, "serial.log"),
      shares: [{ tag: "libvirt", path: paths.libvirt! }],
      disks: [{ path: disk }],
      forwards: [
        { proto: "udp", hostPort: host.udpPort, guestIp: "10.0.0.2", guestPort: 7 },
        { proto: "tcp", hostPort: host.tcpPort, guestIp: "10.0.0.1", guestPort: 8000 },
      ],
      onConsole: (_name, line) => {
        if (line !== "devices: ready") return;
        void (async () => {
          host.udp = await udpRoundTrip(host.udpPort, "hello through the UDP forward");
          host.tcp = await tcpRoundTrip(host.tcpPort, "hello through the TCP forward\n");
          await udpRoundTrip(host.udpPort, "host-done");
        })();
      },
    },
  ).then((r) => ({ ...r, disk: fs.readFileSync(disk) }));
});

rig.test("libvirt: virsh create starts the domain tsxen build --libvirt wrote, with its cmdline, memory, vif and disk", async (t) => {
  const s = await rig.scenario(t, "devices");
  const c = s?.console ?? [];
  t.ok(c.includes("devices: cmdline 'hello=libvirt', 40 MiB"), "the cmdline and memory from the domain XML");
  t.ok(c.includes("netfront 0: connected, mac 00:16:3e:00:00:02, ip 10.0.0.2"), "the vif with the XML's MAC and address");
  t.ok(c.some((l) => l.startsWith("blkfront 51712 (xvda): 2048 sectors (1 MiB)")), "the disk as xvda, 1 MiB");
  t.ok(c.includes("devices: xvda sector 0 written"), "the guest wrote to it");
  const out = s?.checkOutput ?? [];
  t.ok(out.includes("running"), "libvirt reports the domain running");
  t.ok(out.some((l) => /<cmdline>hello=libvirt<\/cmdline>/.test(l)), "libvirt's view has the cmdline");
  t.ok(out.some((l) => /3 packets transmitted, 3 packets received/.test(l)), "dom0 pings the guest");
  t.ok(out.some((l) => /Domain '?devices'? is being shutdown/.test(l)), "virsh shutdown asked it to stop");
  t.equal(s?.reason, "poweroff", "the guest powered off on virsh shutdown");
  t.equal(s?.checkRc, 0, "the dom0 check passed");
});

rig.test("forwards: a host UDP port reaches the guest, a host TCP port reaches dom0's listener, over the rig's bridge", async (t) => {
  await rig.result();
  t.equal(host.udp, "hello through the UDP forward", "UDP echoed by the guest");
  t.equal(host.tcp, "hello through the TCP forward\n", "TCP echoed by dom0's listener");
  const s = await rig.scenario(t, "devices");
  t.ok(s?.console.includes("devices: datagram hello through the UDP forward"), "the guest logged the datagram");
});

rig.test("disks: what the guest wrote to /dev/tsxen-disk0 is in the host file", async (t) => {
  const r = (await rig.result()) as Awaited<ReturnType<typeof rig.result>> & { disk?: Buffer };
  t.equal(r.disk?.subarray(0, 26).toString(), "tsxen devices test: xvda\n\0", "sector 0 holds the guest's marker");
});
