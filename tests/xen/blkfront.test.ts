// Under real Xen: examples/blk-verify against Linux's blkback. dom0 backs
// each disk with a file on its tmpfs (/tmp), attached through the rig's
// block-tsxen hotplug script (a loop device). A 16 MiB
// disk gets a pseudorandom pattern, a flush and a full read-back (64
// requests of 256 KiB each way and the flush: more than the ring's 128
// slots, so its indices wrap); after
// the guest powers off, dom0's `busybox crc32` of the backing file must
// equal the guest's CRC-32. In the same guest, a read-only 8 MiB disk of
// random bytes refuses the write and reads back with dom0's CRC-32, next
// to a small writable disk (three vbds in one guest). The scenario runs as
// type = "pv" and as type = "pvh". The same rig boot runs the libvirt
// scenarios of libvirt-scenario.ts (in both modes too).
import test from "tape";
import path from "node:path";
import type { ScenarioResult } from "../../tools/rig/harness.ts";
import { RigTest, buildImage, inMode, inModes, probeExtra, XEN_PROBE } from "./rig-test.ts";
import fs from "node:fs";
import { LIBVIRT_BUILD, libvirtRigOptions, libvirtScenario, libvirtTests, pvhDomainXml } from "./libvirt-scenario.ts";

const disk = (vdev: string, access: "rw" | "ro", file: string) =>
  `'format=raw,vdev=${vdev},access=${access},script=block-tsxen,target=${file}'`;

// dom0, once the guest is down: each "<vdev> <file>" pair's CRC-32 must be
// the one the guest printed last for that vdev.
function checkScript(pairs: [string, string][]): string {
  return `phase=$1 log=$4
[ "$phase" = stopped ] || exit 0
rc=0
${pairs.map(([vdev, file]) => `want=$(busybox crc32 ${file} | cut -d' ' -f1)
echo "dom0: ${vdev} ${file} crc32 $want"
got=$(grep "blk-verify: ${vdev}: .*crc32 " "$log" | tail -n 1 | sed 's/.*crc32 \\([0-9a-f]*\\).*/\\1/')
[ "$got" = "$want" ] || { echo "dom0: ${vdev}: guest said '$got'"; rc=1; }`).join("\n")}
exit $rc
`;
}

// The libvirt domains (XML files): PV from tsxen build --libvirt, PVH for the same options.
const xml = { pv: "", pvh: "" };

const rig = new RigTest("tsxen-xen-blk-", async (tmp) => {
  // examples/blk-verify in the probe image (tests/apps/xen-probe.ts), built
  // with the libvirt domain for libvirt-scenario.ts
  const image = path.join(tmp, "blk-verify.xen");
  await buildImage(XEN_PROBE, image, LIBVIRT_BUILD);
  xml.pv = `${image}.xml`;
  xml.pvh = path.join(tmp, "blk-verify-pvh.xml");
  fs.writeFileSync(xml.pvh, pvhDomainXml(image));
  // One guest, three disks (one boot per mode instead of two).
  return inModes([{
    name: "blk", image, timeoutSec: 90,
    setup: "rm -f /tmp/rw.img /tmp/small.img && truncate -s 16M /tmp/rw.img && truncate -s 4M /tmp/small.img && " +
      "dd if=/dev/urandom of=/tmp/ro.img bs=1M count=8 2>/dev/null\n",
    xlExtra: [`disk = [ ${disk("xvda", "rw", "/tmp/rw.img")}, ${disk("xvdb", "ro", "/tmp/ro.img")}, ${disk("xvdc", "rw", "/tmp/small.img")} ]`, probeExtra("blk-verify")],
    check: checkScript([["xvda", "/tmp/rw.img"], ["xvdb", "/tmp/ro.img"], ["xvdc", "/tmp/small.img"]]),
  }]).concat(libvirtScenario(image, xml.pv, "pv"), libvirtScenario(image, xml.pvh, "pvh"));
}, libvirtRigOptions);

// The scenario's result, with its driver lines and dom0's check as comments.
async function scenario(t: test.Test, name: string): Promise<ScenarioResult | undefined> {
  const s = await rig.scenario(t, name);
  for (const l of s?.console ?? []) if (/^blk(front|-verify)/.test(l)) t.comment(l);
  for (const l of s?.checkOutput ?? []) t.comment(l);
  return s;
}

rig.modeTest("blkfront: 16 MiB written, flushed and read back through Linux blkback; dom0's CRC-32 of the file matches", async (t, mode) => {
  const s = await scenario(t, inMode("blk", mode));
  const lines = s?.console ?? [];
  t.ok(lines.some((l) => /^blkfront 51712 \(xvda\): 32768 sectors \(16 MiB\), sector-size 512, read-write/.test(l)), "the guest printed the negotiated features");
  t.deepEqual(lines.filter((l) => /FAIL|trap|panic|broken/.test(l)), [], "no failure");
  t.ok(lines.some((l) => /^blk-verify: xvda: read back 16777216 bytes .* 0 mismatched sectors$/.test(l)), "read back with no mismatched sector");
  t.ok(lines.includes("blk-verify: grants in use 0 after closing"), "every grant ended after closing");
  t.ok(lines.includes("blk-verify: PASS"));
  t.equal(s?.reason, "poweroff");
  t.equal(s?.checkRc, 0, "dom0's busybox crc32 of each backing file equals the guest's");
});

rig.modeTest("blkfront: a read-only disk refuses writes and reads back with dom0's CRC-32, next to writable ones", async (t, mode) => {
  const s = await rig.scenario(t, inMode("blk", mode));
  const lines = s?.console ?? [];
  t.ok(lines.some((l) => /^blkfront 51728 \(xvdb\): 16384 sectors \(8 MiB\), .*read-only \(mode r/.test(l)), "xvdb connected read-only");
  t.ok(lines.some((l) => /^blkfront 51744 \(xvdc\): 8192 sectors \(4 MiB\), .*read-write/.test(l)), "xvdc connected read-write");
  t.ok(lines.includes("blk-verify: xvdb: write refused: xvdb: read-only disk (mode r): write refused"), "the write was refused with a clear error");
  t.ok(lines.some((l) => /^blk-verify: xvdb: read-only, read 8388608 bytes .*crc32 [0-9a-f]{8}$/.test(l)), "the read-only disk was read whole");
  t.ok(lines.some((l) => /^blk-verify: xvdc: read back 4194304 bytes .* 0 mismatched sectors$/.test(l)), "the small disk read back with no mismatch");
  t.ok(s?.checkOutput.some((l) => /^dom0: xvdb \/tmp\/ro\.img crc32 [0-9a-f]+$/.test(l)), "dom0 checked the read-only disk's CRC-32 (the check passes only if it matches)");
});

libvirtTests(rig, () => fs.readFileSync(xml.pv, "utf8"), () => fs.readFileSync(xml.pvh, "utf8"));
