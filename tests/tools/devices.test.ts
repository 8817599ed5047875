// Devices as the tools see them (tools/devices.ts): --vif/--disk/--forward
// values, the xl lines tsxen build writes and tsxen run reads back (also
// from hand-written configs), the libvirt domain (tools/libvirt.ts; real
// libvirt runs it in tests/xen/libvirt-scenario.ts), and the exit codes.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  parseVif, parseDisk, parseForward, parseXlConfig, vifFromXl, diskFromXl, xlVifLine, xlDiskLine, macForIp, DeviceError,
} from "../../tools/devices.ts";
import { xlConfig } from "../../tools/build.ts";
import { DEFAULT_MEMORY_BASE, memoryBaseFor } from "../../tools/host-interface.ts";
import { readConfig } from "../../tools/run.ts";
import { domainXml } from "../../tools/libvirt.ts";
import { EXIT, exitCodeFor } from "../../tools/outcome.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-devices-test-"));
test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("devices: --vif defaults to 10.0.0.(2+n) with a MAC made from the address", (t) => {
  t.deepEqual(parseVif("", 0), { ip: "10.0.0.2", mac: "00:16:3e:00:00:02" });
  t.deepEqual(parseVif("", 3), { ip: "10.0.0.5", mac: "00:16:3e:00:00:05" });
  t.deepEqual(parseVif("ip=10.0.0.42, mtu=9000", 0), { ip: "10.0.0.42", mac: "00:16:3e:00:00:2a", mtu: 9000 });
  t.deepEqual(parseVif("mac=00:16:3E:AA:BB:CC", 0), { ip: "10.0.0.2", mac: "00:16:3e:aa:bb:cc" });
  t.equal(macForIp("10.0.0.253"), "00:16:3e:00:00:fd");
  t.end();
});

test("devices: --disk FILE[:ro|:rw] and --forward HOSTPORT:GUESTPORT[/udp|/tcp]", (t) => {
  t.deepEqual(parseDisk("data.img", 0), { path: path.resolve("data.img"), readOnly: false, vdev: "xvda" });
  t.deepEqual(parseDisk("/x/a:b.img:ro", 1), { path: "/x/a:b.img", readOnly: true, vdev: "xvdb" }, "only a final :ro counts");
  t.deepEqual(parseDisk("/x/b.img:rw", 2), { path: "/x/b.img", readOnly: false, vdev: "xvdc" });
  t.throws(() => parseDisk(":ro", 0), DeviceError);
  t.deepEqual(parseForward("7000:7/udp"), { proto: "udp", hostPort: 7000, guestPort: 7 });
  t.deepEqual(parseForward("8080:80"), { proto: "tcp", hostPort: 8080, guestPort: 80 }, "TCP by default");
  t.deepEqual(parseForward("8080:80/tcp"), { proto: "tcp", hostPort: 8080, guestPort: 80 });
  for (const bad of ["7000", "0:7/udp", "7000:7/sctp", "a:b"]) t.throws(() => parseForward(bad), DeviceError, `refuses ${bad}`);
  t.end();
});

test("devices: what tsxen build writes into the .cfg, tsxen run reads back", (t) => {
  const vifs = [parseVif("", 0), parseVif("ip=10.0.0.9,mtu=9000", 1)];
  const disks = [parseDisk(path.join(tmp, "a.img"), 0), parseDisk(`${path.join(tmp, "b.img")}:ro`, 1)];
  const image = path.join(tmp, "app.xen");
  const cfg = xlConfig("app", image, 48, { vifs, disks, extra: 'mode="fast"' });
  t.ok(cfg.includes(`vif = [ 'mac=00:16:3e:00:00:02,ip=10.0.0.2', 'mac=00:16:3e:00:00:09,ip=10.0.0.9,mtu=9000' ]`), "vif line");
  t.ok(cfg.includes(`disk = [ 'format=raw, vdev=xvda, access=rw, target=${disks[0].path}', 'format=raw, vdev=xvdb, access=ro, target=${disks[1].path}' ]`), "disk line");
  t.ok(cfg.includes(`extra = "mode=fast"`), "extra, quotes dropped");
  fs.writeFileSync(`${image}.cfg`, cfg);
  const back = readConfig(`${image}.cfg`);
  t.deepEqual(back.vifs, vifs, "the same vifs");
  t.deepEqual(back.disks, disks, "the same disks");
  t.equal(back.memoryMB, 48);
  t.equal(back.extra, "mode=fast");
  t.equal(back.type, "pv", "type = \"pv\" by default");
  fs.writeFileSync(`${image}.cfg`, xlConfig("app", image, 48, {}, "pvh"));
  t.equal(readConfig(`${image}.cfg`).type, "pvh", "build --pvh's type = \"pvh\" (tsxen run boots it as PVH)");
  fs.writeFileSync(`${image}.cfg`, 'type = "hvm"\n');
  t.throws(() => readConfig(`${image}.cfg`), /type must be "pv" or "pvh"/, "type = \"hvm\" is refused: a tsxen image is no HVM disk");
  t.deepEqual(readConfig(path.join(tmp, "none.cfg")), { vifs: [], disks: [] }, "no config: no devices");
  t.end();
});

test("devices: hand-written xl configs: lists over lines, comments, both disk syntaxes, bridge= ignored", (t) => {
  const cfg = parseXlConfig([
    "# my guest",
    "# tsxen's \"web\" app: comments may hold quotes",
    'name = "web"',
    "memory = 64   # MiB ('64')",
    "vif = [ 'bridge=xenbr0, mac=00:16:3e:01:02:03, ip=10.0.0.7',",
    '        "ip=10.0.0.8" ]',
    "disk = [ '/srv/web.img,raw,xvda,rw', 'phy:/dev/vg/logs,xvdb,r', 'vdev=xvdc, access=ro, target=/srv/with,comma.img' ]",
  ].join("\n"));
  t.equal(cfg.get("name"), "web");
  t.equal(cfg.get("memory"), 64);
  const vifs = (cfg.get("vif") as string[]).map((s, i) => vifFromXl(s, i, "web.cfg"));
  t.deepEqual(vifs, [{ ip: "10.0.0.7", mac: "00:16:3e:01:02:03" }, { ip: "10.0.0.8", mac: "00:16:3e:00:00:08" }]);
  const disks = (cfg.get("disk") as string[]).map((s, i) => diskFromXl(s, i, "web.cfg", "/"));
  t.deepEqual(disks, [
    { path: "/srv/web.img", readOnly: false, vdev: "xvda" },
    { path: "/dev/vg/logs", readOnly: true, vdev: "xvdb" },
    { path: "/srv/with,comma.img", readOnly: true, vdev: "xvdc" },
  ]);
  t.throws(() => diskFromXl("/srv/a.qcow2,qcow2,xvda,rw", 0, "x.cfg"), /format qcow2 is not supported/);
  t.throws(() => vifFromXl("ip=192.168.0.2", 0, "x.cfg"), /x\.cfg: vif 'ip=192\.168\.0\.2'/);
  t.throws(() => parseXlConfig("memory = = 3"), /cannot read/);
  t.equal(xlVifLine([]), null, "no vifs, no line");
  t.equal(xlDiskLine([]), null, "no disks, no line");
  t.end();
});

// The first tag that is not properly nested, or null.
function unbalanced(xml: string): string | null {
  const open: string[] = [];
  for (const m of xml.matchAll(/<!--[\s\S]*?-->|<(\/?)(\w+)[^>]*?(\/?)>/g)) {
    if (m[2] === undefined || m[3] === "/") continue;
    if (m[1] !== "/") open.push(m[2]);
    else if (open.pop() !== m[2]) return m[0];
  }
  return open.length ? open[0] : null;
}

test("libvirt: the domain has the PV kernel, cmdline, memory, vifs and disks", (t) => {
  const xml = domainXml({
    name: "app", kernel: "/srv/app.xen", memoryMB: 48, cmdline: "a<b",
    vifs: [parseVif("", 0)], disks: [{ path: "/dev/vg/data", readOnly: false, vdev: "xvda" }, { path: "/srv/ro.img", readOnly: true, vdev: "xvdb" }],
  });
  for (const part of [
    "<domain type='xen'>", "<name>app</name>", "<memory unit='MiB'>48</memory>", "<type arch='x86_64' machine='xenpv'>linux</type>",
    "<kernel>/srv/app.xen</kernel>", "<cmdline>a&lt;b</cmdline>", "<on_crash>preserve</on_crash>",
    "<source bridge='xenbr0'/>", "<mac address='00:16:3e:00:00:02'/>", "<ip address='10.0.0.2'/>",
    "<disk type='block' device='disk'>", "<source dev='/dev/vg/data'/>", "<target dev='xvda' bus='xen'/>",
    "<disk type='file' device='disk'>", "<source file='/srv/ro.img'/>", "<readonly/>",
  ]) t.ok(xml.includes(part), part);
  t.equal(unbalanced(xml), null, "well-formed: every element closed in order");
  t.end();
});

test("libvirt: a PVH domain is os type xenpvh (libxl's type = \"pvh\"), with the same kernel", (t) => {
  const xml = domainXml({ name: "app", kernel: "/srv/app.xen", memoryMB: 32, type: "pvh" });
  t.ok(xml.includes("<type arch='x86_64' machine='xenpvh'>xenpvh</type>"), "os type and machine xenpvh");
  t.notOk(xml.includes("xenpv'"), "no PV os type");
  t.ok(xml.includes("<kernel>/srv/app.xen</kernel>"), "the kernel");
  t.equal(unbalanced(xml), null, "well-formed");
  t.end();
});

test("outcome: one exit code per way a guest can end", (t) => {
  t.equal(exitCodeFor("poweroff", null), EXIT.poweroff);
  t.equal(exitCodeFor("crash", null), EXIT.crash);
  t.equal(exitCodeFor("watchdog", null), EXIT.crash);
  t.equal(exitCodeFor("reboot", null), EXIT.reboot);
  t.equal(exitCodeFor("timeout", null), EXIT.timeout);
  t.equal(exitCodeFor("blocked", null), EXIT.timeout);
  t.equal(exitCodeFor("host-failure", null), EXIT.host);
  t.equal(exitCodeFor("poweroff", { matched: false }), EXIT.expectMissed, "powered off without the expected line");
  t.equal(exitCodeFor("poweroff", { matched: true }), EXIT.poweroff);
  t.equal(exitCodeFor("timeout", { matched: false }), EXIT.timeout, "the line did not come in time");
  t.equal(exitCodeFor("crash", { matched: true }), EXIT.crash, "a crash after the line still fails");
  t.deepEqual(new Set(Object.values(EXIT)).size, Object.keys(EXIT).length, "all distinct");
  t.end();
});

test("devices: a PVH guest under 8 MiB gets a 1 MiB HAP pool in its xl config; a PV one or a bigger one nothing extra", (t) => {
  t.ok(xlConfig("tiny", "/x/tiny.xen", 4, {}, "pvh").split("\n").includes("shadow_memory = 1"), "pvh, memory = 4: shadow_memory = 1");
  t.notOk(xlConfig("tiny", "/x/tiny.xen", 4, {}, "pv").includes("shadow_memory"), "pv, memory = 4: none");
  t.notOk(xlConfig("big", "/x/big.xen", 8, {}, "pvh").includes("shadow_memory"), "pvh, memory = 8: none (libxl's default pool suffices)");
  t.end();
});

test("memory base: guests under 8 MiB get their wasm memory from 3 MiB, bigger ones from 4 MiB", (t) => {
  t.equal(memoryBaseFor(4), 3 << 20);
  t.equal(memoryBaseFor(7), 3 << 20);
  t.equal(memoryBaseFor(8), DEFAULT_MEMORY_BASE);
  t.equal(DEFAULT_MEMORY_BASE, 4 << 20);
  t.end();
});
