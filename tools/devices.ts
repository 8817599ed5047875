// The devices and port forwards a guest gets, the same for every host: as
// the command line gives them (--vif, --disk, --forward), as an xl config
// lists them (vif = [...], disk = [...]; xl-network-configuration(5),
// xl-disk-configuration(5)), and as xl config lines again.
//
// The guest network is 10.0.0.0/24 in both hosts: vif n defaults to
// 10.0.0.(2+n) with MAC 00:16:3e + the address's last three bytes;
// forwarded host traffic comes from 10.0.0.254 (the sim's gateway, QEMU's
// user network under Xen); dom0 is 10.0.0.1 in the real-Xen rig.
import path from "node:path";
import { SMALL_GUEST_MB } from "./host-interface.ts";

export interface VifSpec {
  ip: string;
  mac: string;
  mtu?: number;
}

export interface DiskSpec {
  path: string;
  readOnly: boolean;
  vdev: string;        // xvda, xvdb, ...
}

export interface ForwardSpec {
  proto: "udp" | "tcp";
  hostPort: number;
  guestPort: number;
}

export const HOST_GATEWAY_IP = "10.0.0.254";

export class DeviceError extends Error {}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const MIN_MTU = 576;
const MAX_MTU = 9000;   // what netfront's jumbo-frame support is tested with

function checkIp(ip: string, where: string): string {
  const m = IPV4.exec(ip);
  if (!m || m.slice(1).some((p) => Number(p) > 255)) throw new DeviceError(`${where}: '${ip}' is not an IPv4 address`);
  if (!ip.startsWith("10.0.0.") || ip === "10.0.0.0" || ip === "10.0.0.255" || ip === "10.0.0.1" || ip === HOST_GATEWAY_IP) {
    throw new DeviceError(`${where}: the guest network is 10.0.0.0/24 and 10.0.0.1 (dom0) and ${HOST_GATEWAY_IP} (the host) are taken: use 10.0.0.2 to 10.0.0.253`);
  }
  return ip;
}

export function defaultVifIp(index: number): string {
  return `10.0.0.${2 + index}`;
}

// 00:16:3e (Xen's OUI) and the address's last three bytes: stable and unique on the network.
export function macForIp(ip: string): string {
  return ["00", "16", "3e", ...ip.split(".").slice(1).map((p) => Number(p).toString(16).padStart(2, "0"))].join(":");
}

function keyValues(text: string, where: string): Map<string, string> {
  const kv = new Map<string, string>();
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new DeviceError(`${where}: '${part}' is not key=value`);
    kv.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return kv;
}

// A --vif value ("" or "ip=…,mac=…,mtu=…") for the guest's `index`th vif.
export function parseVif(text: string, index: number, where = `--vif ${text}`.trim()): VifSpec {
  const kv = keyValues(text, where);
  for (const key of kv.keys()) if (!["ip", "mac", "mtu"].includes(key)) throw new DeviceError(`${where}: unknown key '${key}' (ip, mac, mtu)`);
  return vifFrom(kv, index, where);
}

function vifFrom(kv: Map<string, string>, index: number, where: string): VifSpec {
  const ip = checkIp(kv.get("ip") ?? defaultVifIp(index), where);
  const mac = (kv.get("mac") ?? macForIp(ip)).toLowerCase();
  if (!MAC.test(mac)) throw new DeviceError(`${where}: '${mac}' is not a MAC address (xx:xx:xx:xx:xx:xx)`);
  if (parseInt(mac.slice(0, 2), 16) & 1) throw new DeviceError(`${where}: ${mac} is a multicast MAC address`);
  const spec: VifSpec = { ip, mac };
  if (kv.has("mtu")) {
    const mtu = Number(kv.get("mtu"));
    if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) throw new DeviceError(`${where}: mtu must be a whole number from ${MIN_MTU} to ${MAX_MTU}`);
    spec.mtu = mtu;
  }
  return spec;
}

// A --disk value: FILE, FILE:ro or FILE:rw.
export function parseDisk(text: string, index: number): DiskSpec {
  const m = /^(.*?)(?::(ro|rw))?$/.exec(text)!;
  if (!m[1]) throw new DeviceError(`--disk ${text}: no file named`);
  return { path: path.resolve(m[1]), readOnly: m[2] === "ro", vdev: vdevName(index) };
}

export function vdevName(index: number): string {
  if (index >= 26) throw new DeviceError("at most 26 disks (xvda..xvdz)");
  return `xvd${String.fromCharCode(97 + index)}`;
}

// A --forward value: HOSTPORT:GUESTPORT[/udp|/tcp] (TCP unless it says udp).
export function parseForward(text: string): ForwardSpec {
  const m = /^(\d+):(\d+)(?:\/(udp|tcp))?$/.exec(text);
  if (!m) throw new DeviceError(`--forward ${text}: expected HOSTPORT:GUESTPORT[/udp] (e.g. 7000:7/udp)`);
  const [hostPort, guestPort] = [Number(m[1]), Number(m[2])];
  for (const p of [hostPort, guestPort]) if (p < 1 || p > 65535) throw new DeviceError(`--forward ${text}: ports are 1 to 65535`);
  return { proto: m[3] === "udp" ? "udp" : "tcp", hostPort, guestPort };
}

// Checks the whole set: distinct addresses, forwards only with a vif (they go to vif 0's address).
export function checkDevices(vifs: VifSpec[], disks: DiskSpec[], forwards: ForwardSpec[]): void {
  const seen = new Set<string>();
  for (const v of vifs) {
    for (const key of [v.ip, v.mac]) {
      if (seen.has(key)) throw new DeviceError(`two vifs have ${key}`);
      seen.add(key);
    }
  }
  const ports = new Set<string>();
  for (const f of forwards) {
    const key = `${f.proto}:${f.hostPort}`;
    if (ports.has(key)) throw new DeviceError(`host ${f.proto.toUpperCase()} port ${f.hostPort} is forwarded twice`);
    ports.add(key);
  }
  if (forwards.length && !vifs.length) throw new DeviceError("--forward needs a vif (add --vif): forwards go to the first vif's address");
  const files = new Set<string>();
  for (const d of disks) {
    if (files.has(d.path)) throw new DeviceError(`${d.path} is given as a disk twice`);
    files.add(d.path);
  }
}

// ---- xl config lines

const quote = (s: string): string => `'${s.replace(/'/g, "")}'`;

export function xlVifLine(vifs: VifSpec[], extra = ""): string | null {
  if (!vifs.length) return null;
  return `vif = [ ${vifs.map((v) => quote(`mac=${v.mac},ip=${v.ip}${v.mtu ? `,mtu=${v.mtu}` : ""}${extra}`)).join(", ")} ]`;
}

// `target` maps a disk to what dom0 sees (default: the file itself).
export function xlDiskLine(disks: DiskSpec[], target: (d: DiskSpec, i: number) => string = (d) => d.path): string | null {
  if (!disks.length) return null;
  return `disk = [ ${disks.map((d, i) => quote(`format=raw, vdev=${d.vdev}, access=${d.readOnly ? "ro" : "rw"}, target=${target(d, i)}`)).join(", ")} ]`;
}

// ---- reading an xl config (the subset tsxen writes and users add to)

export type XlValue = string | number | string[];

// key = "string" | 'string' | number | [ 'a', "b", ... ] (lists may span lines); # comments.
export function parseXlConfig(text: string, file = "xl config"): Map<string, XlValue> {
  const out = new Map<string, XlValue>();
  const src = text;
  const re = /([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*'|\[[^\]]*\]|[^\s;]+)\s*;?/gy;
  let at = 0;
  for (;;) {
    while (at < src.length && /\s/.test(src[at])) at++;
    if (at >= src.length) break;
    if (src[at] === "#") { // a comment, whatever it holds, to the end of the line
      while (at < src.length && src[at] !== "\n") at++;
      continue;
    }
    re.lastIndex = at;
    const m = re.exec(src);
    if (!m) throw new DeviceError(`${file}: cannot read '${src.slice(at).split("\n")[0]}'`);
    at = re.lastIndex;
    const raw = m[2];
    if (raw.startsWith("[")) out.set(m[1], [...raw.slice(1, -1).matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g)].map((x) => x[1] ?? x[2]));
    else if (raw.startsWith('"') || raw.startsWith("'")) out.set(m[1], raw.slice(1, -1));
    else if (/^-?\d+$/.test(raw)) out.set(m[1], Number(raw));
    else out.set(m[1], raw);
  }
  return out;
}

// One vif= entry of an xl config. The rig puts every vif on its bridge, so
// bridge=, script= and the like are accepted and ignored.
export function vifFromXl(spec: string, index: number, file: string): VifSpec {
  const kv = keyValues(spec, `${file}: vif '${spec}'`);
  return vifFrom(kv, index, `${file}: vif '${spec}'`);
}

// One disk= entry: key=value form (target= last) or positional
// (target[, format], vdev, access), with an optional phy:/file: prefix.
export function diskFromXl(spec: string, index: number, file: string, baseDir = process.cwd()): DiskSpec {
  const where = `${file}: disk '${spec}'`;
  const t = spec.indexOf("target=");
  const kv = new Map<string, string>();
  let target: string | undefined;
  if (t >= 0) {
    target = spec.slice(t + "target=".length).trim();
    for (const [k, v] of keyValues(spec.slice(0, t), where)) kv.set(k, v);
  } else {
    const p = spec.split(",").map((x) => x.trim());
    target = p.shift();
    if (["raw", "qcow", "qcow2", "vhd", "qed", "empty"].includes(p[0] ?? "")) kv.set("format", p.shift()!);
    if (p[0]) kv.set("vdev", p[0]);
    if (p[1]) kv.set("access", p[1]);
  }
  if (!target) throw new DeviceError(`${where}: no target`);
  target = target.replace(/^(phy|file|aio|tap|tap2):/, "");
  const fmt = kv.get("format") ?? "raw";
  if (fmt !== "raw") throw new DeviceError(`${where}: format ${fmt} is not supported (raw only)`);
  const mode = kv.get("access") ?? kv.get("mode") ?? "rw";
  if (!["r", "ro", "w", "rw"].includes(mode)) throw new DeviceError(`${where}: access '${mode}' (ro or rw)`);
  const name = (kv.get("vdev") ?? vdevName(index)).replace(/^\/dev\//, "");
  if (!/^xvd[a-z]$/.test(name)) throw new DeviceError(`${where}: vdev '${name}' (xvda..xvdz)`);
  return { path: path.resolve(baseDir, target), readOnly: mode === "r" || mode === "ro", vdev: name };
}

// xl config lines a guest of this type and size needs beyond the usual:
// a PVH guest under 8 MiB gets a 1 MiB HAP pool (shadow_memory), as libxl's
// default for it (4 KiB per MiB of RAM) is less than Xen's p2m for the
// guest already takes, and `xl create` fails ("Failed to set paging mempool
// size"). Under PV the option has no use.
export function sizeXlLines(type: "pv" | "pvh", memoryMB: number): string[] {
  return type === "pvh" && memoryMB < SMALL_GUEST_MB ? ["shadow_memory = 1"] : [];
}
