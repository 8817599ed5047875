// Under real Xen, in the suite's one rig boot (scenarios of blkfront.test.ts):
// the libvirt domain `tsxen build --libvirt` writes for examples/blk-verify
// (in the probe image, tests/apps/xen-probe.ts: cmdline "probe=blk-verify
// seed=7") with its kernel, cmdline, memory, a vif and a disk, started with `virsh -c
// xen:///system create` in dom0, once as a PV domain (os type linux,
// machine xenpv) and once as a PVH one (os type xenpvh) (libvirtd 9.0 with its libxl driver, from
// the rig's libvirt tree). The disk is a host file QEMU gives dom0
// (/dev/tsxen-disk0): the guest's pattern must be in that file afterwards.
// Meanwhile the host reaches a TCP listener in dom0 through the rig's port
// forward (QEMU's user network on xenbr0): TCP checked at the plumbing
// level, as the guest has no TCP yet (UDP to a guest is checked end to end
// by tests/package.test.ts).
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { crc32 } from "node:zlib";
import type test from "tape";
import { prepareRig, type RigOptions, type Scenario } from "../../tools/rig/harness.ts";
import { parseVif } from "../../tools/devices.ts";
import type { BuildOptions } from "../../tools/build.ts";
import { domainXml } from "../../tools/libvirt.ts";
import { inMode, skipXen, type BootMode, type RigTest } from "./rig-test.ts";

export const LIBVIRT_DOMAIN = "libvirt-blk";

// What blkfront.test.ts's build adds: the domain XML with these devices.
export const LIBVIRT_BUILD: Partial<BuildOptions> = {
  name: LIBVIRT_DOMAIN, memoryMB: 40, libvirt: true,
  devices: { vifs: [parseVif("", 0)], disks: [{ path: "/dev/tsxen-disk0", readOnly: false, vdev: "xvda" }], extra: "probe=blk-verify seed=7" },
};

const host = { disk: "", tcpPort: 0, tcp: "" };

// The rig with libvirt's tree is prepared now, while the images build: on a
// first run that is ~100 MB of Debian packages to download and unpack, which
// otherwise waited for the images (libvirtRigOptions gets this same run).
if (!skipXen) prepareRig({ libvirt: true }).catch(() => undefined);

// dom0: libvirt's and the toolstack's view of the domain, then the bytes the
// host's TCP connection brought to dom0's listener.
const CHECK = `phase=$1 name=$3
[ "$phase" = running ] || exit 0
virsh -c xen:///system dumpxml "$name" | grep -E "<(type|kernel|cmdline|memory|mac|ip|source)[ >]"
domid=$(xl domid "$name")
for k in mac ip bridge; do echo "backend vif $k $(xenstore-read /local/domain/0/backend/vif/$domid/0/$k)"; done
echo "backend vbd params $(xenstore-read /local/domain/0/backend/vbd/$domid/51712/params)"
xl list -l "$name" | grep -E '"(cmdline|max_memkb|type)"' | sed 's/^ *//; s/": /":/; s/,$//'
i=0; until [ -s /tmp/tcp-got ]; do i=$((i+1)); [ $i -gt 120 ] && { echo "dom0: nothing came through the TCP forward"; exit 1; }; sleep 0.25; done
echo "dom0 listener got: $(cat /tmp/tcp-got)"
`;

function tcpRoundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const c = net.connect(port, "127.0.0.1", () => c.write(text));
    const timer = setTimeout(() => { c.destroy(); resolve(got || "(no reply)"); }, 15_000);
    c.on("data", (d) => {
      got += d;
      if (got.length >= text.length) { clearTimeout(timer); c.end(); resolve(got); }
    });
    c.on("error", (e) => { clearTimeout(timer); resolve(`(error: ${e.message})`); });
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

// The PVH domain: what tsxen build --pvh --libvirt writes for the same
// options (the PV one's XML but for the os type; the test checks that).
export function pvhDomainXml(image: string): string {
  const d = LIBVIRT_BUILD.devices!;
  return domainXml({
    name: inMode(LIBVIRT_DOMAIN, "pvh"), kernel: image, memoryMB: LIBVIRT_BUILD.memoryMB!, type: "pvh",
    cmdline: d.extra, vifs: d.vifs, disks: d.disks, bridge: d.bridge,
  });
}

// `xml`: the domain's XML file.
export function libvirtScenario(image: string, xml: string, mode: BootMode): Scenario {
  return {
    name: inMode(LIBVIRT_DOMAIN, mode), image, timeoutSec: 60, files: { "domain.xml": xml },
    // dom0's TCP echo listener (the far end of the forward), which also keeps
    // what it got: started by the first libvirt scenario (PV), used by both
    ...(mode === "pv" ? { setup: "printf '#!/bin/sh\\ntee /tmp/tcp-got\\n' > /tmp/echo.sh && chmod +x /tmp/echo.sh\n(busybox nc -l -p 8000 -e /tmp/echo.sh </dev/null >/dev/null 2>&1 &)\n" } : {}),
    // the image is in the scenario dir here; preserve: the harness reads the
    // shutdown reason of the stopped domain; libvirtd is started once
    create: `sed -i "s|<kernel>.*</kernel>|<kernel>$PWD/${path.basename(image)}</kernel>|; s|<on_poweroff>destroy<|<on_poweroff>preserve<|" domain.xml
[ -S /run/libvirt/libvirt-sock ] || libvirt-start || exit 1
virsh -c xen:///system create domain.xml
`,
    check: CHECK,
  };
}

// The run's extra options: the libvirt tree, the disk, the TCP forward.
export async function libvirtRigOptions(tmp: string): Promise<RigOptions> {
  host.disk = path.join(tmp, "libvirt-disk.img");
  fs.writeFileSync(host.disk, Buffer.alloc(1 << 20));
  host.tcpPort = await freePort();
  const rig = await prepareRig({ libvirt: true });
  let started = false;
  return {
    rig,
    shares: [{ tag: "libvirt", path: rig.libvirt! }],
    disks: [{ path: host.disk }],
    forwards: [{ proto: "tcp", hostPort: host.tcpPort, guestIp: "10.0.0.1", guestPort: 8000 }],
    onConsole: (scenario) => {
      if (scenario !== LIBVIRT_DOMAIN || started) return;
      started = true;
      void tcpRoundTrip(host.tcpPort, "hello through the TCP forward\n").then((r) => (host.tcp = r));
    },
  };
}

export function libvirtTests(rig: RigTest, pvXml: () => string, pvhXml: () => string): void {
  rig.modeTest("libvirt: virsh create starts the domain tsxen build --libvirt wrote, with its kernel, cmdline, memory, vif and disk", async (t: test.Test, mode) => {
    const s = await rig.scenario(t, inMode(LIBVIRT_DOMAIN, mode));
    const out = s?.checkOutput ?? [];
    for (const l of out) t.comment(l);
    if (mode === "pvh") {
      const [pv, pvh] = [pvXml(), pvhXml()].map((x) => x.split("\n").filter((l) => !l.startsWith("<!--")));
      const differ = pv.filter((l, i) => l !== pvh[i]);
      t.deepEqual(differ.map((l) => l.trim().replace(/>.*/, ">")), ["<name>", "<type arch='x86_64' machine='xenpv'>"], "the PVH domain is the PV one but for its name and os type");
      t.ok(out.some((l) => /<type arch='x86_64' machine='xenpvh'>xenpvh<\/type>/.test(l)), "libvirt has os type xenpvh");
    }
    t.ok(out.includes(`"type":"${mode}"`), `libxl built a ${mode} domain`);
    t.ok(out.some((l) => /<cmdline>probe=blk-verify seed=7<\/cmdline>/.test(l)), "libvirt has the cmdline");
    t.ok(out.some((l) => /<memory unit='KiB'>40960<\/memory>/.test(l)), "and the memory");
    t.ok(out.includes('"cmdline":"probe=blk-verify seed=7"') && out.includes('"max_memkb":40960'), "libxl built the domain with them");
    t.ok(out.includes("backend vif mac 00:16:3e:00:00:02") && out.includes("backend vif ip 10.0.0.2") && out.includes("backend vif bridge xenbr0"), "the vif on xenbr0 with the XML's MAC and address");
    t.ok(out.includes("backend vbd params /dev/tsxen-disk0"), "the disk");
    const c = s?.console ?? [];
    t.ok(c.some((l) => /^blkfront 51712 \(xvda\): 2048 sectors \(1 MiB\), .*read-write/.test(l)), "the guest found the disk");
    t.ok(c.includes("blk-verify: PASS"), "and verified it");
    t.equal(s?.reason, "poweroff", "the guest powered off");
    t.equal(s?.checkRc, 0, "the dom0 check passed");
    // (read after both modes ran; blk-verify's pattern depends only on seed=7, so both write the same bytes)
    const written = c.find((l) => l.startsWith("blk-verify: xvda: verified, crc32 "))?.split(" ").pop();
    t.equal(crc32(fs.readFileSync(host.disk)).toString(16).padStart(8, "0"), written, "the host file holds what the guest wrote (same CRC-32)");
  });

  rig.test("forwards: a host TCP port reaches dom0's listener over the rig's bridge", async (t: test.Test) => {
    const s = await rig.scenario(t, LIBVIRT_DOMAIN);
    t.equal(host.tcp, "hello through the TCP forward\n", "echoed back to the host");
    t.ok(s?.checkOutput.includes("dom0 listener got: hello through the TCP forward"), "dom0's listener got it");
  });
}
