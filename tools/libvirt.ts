// `tsxen build --libvirt`: the guest as a libvirt domain for the libxl
// (Xen) driver (https://libvirt.org/formatdomain.html, drvxen.html): a PV
// kernel (os type `linux`, machine `xenpv`) or, for a PVH guest, os type
// and machine `xenpvh` (libxl's type = "pvh"), with its command line, memory, one vCPU, the console, vifs on a
// bridge and disks. A disk under /dev/ is a block device (libxl's phy
// backend); any other path is a file (libxl then picks its backend: qdisk,
// QEMU in dom0, on a stock Xen host).
import type { DiskSpec, VifSpec } from "./devices.ts";

export interface DomainOptions {
  name: string;
  kernel: string;        // absolute path of the image on the Xen host
  memoryMB: number;
  type?: "pv" | "pvh";   // default "pv"
  cmdline?: string;
  vifs?: VifSpec[];
  disks?: DiskSpec[];
  bridge?: string;       // default xenbr0
  onPoweroff?: "destroy" | "restart" | "preserve";
  onReboot?: "destroy" | "restart" | "preserve";
  onCrash?: "destroy" | "restart" | "preserve";
}

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");

export function domainXml(o: DomainOptions): string {
  const bridge = o.bridge ?? "xenbr0";
  const vifs = (o.vifs ?? []).map((v) => [
    "    <interface type='bridge'>",
    `      <source bridge='${esc(bridge)}'/>`,
    `      <mac address='${esc(v.mac)}'/>`,
    `      <ip address='${esc(v.ip)}'/>`,
    ...(v.mtu ? [`      <mtu size='${v.mtu}'/>`] : []),
    "    </interface>",
  ]);
  const disks = (o.disks ?? []).map((d) => {
    const block = d.path.startsWith("/dev/");
    return [
      `    <disk type='${block ? "block" : "file"}' device='disk'>`,
      `      <source ${block ? "dev" : "file"}='${esc(d.path)}'/>`,
      `      <target dev='${esc(d.vdev)}' bus='xen'/>`,
      ...(d.readOnly ? ["      <readonly/>"] : []),
      "    </disk>",
    ];
  });
  return [
    `<!-- libvirt domain for ${esc(o.name)}, written by tsxen build; start it with virsh -c xen:///system create FILE -->`,
    "<domain type='xen'>",
    `  <name>${esc(o.name)}</name>`,
    `  <memory unit='MiB'>${o.memoryMB}</memory>`,
    `  <currentMemory unit='MiB'>${o.memoryMB}</currentMemory>`,
    "  <vcpu>1</vcpu>",
    "  <os>",
    o.type === "pvh" ? "    <type arch='x86_64' machine='xenpvh'>xenpvh</type>" : "    <type arch='x86_64' machine='xenpv'>linux</type>",
    `    <kernel>${esc(o.kernel)}</kernel>`,
    ...(o.cmdline ? [`    <cmdline>${esc(o.cmdline)}</cmdline>`] : []),
    "  </os>",
    `  <on_poweroff>${o.onPoweroff ?? "destroy"}</on_poweroff>`,
    `  <on_reboot>${o.onReboot ?? "restart"}</on_reboot>`,
    `  <on_crash>${o.onCrash ?? "preserve"}</on_crash>`,
    "  <devices>",
    "    <console type='pty'>",
    "      <target type='xen' port='0'/>",
    "    </console>",
    ...vifs.flat(),
    ...disks.flat(),
    "  </devices>",
    "</domain>",
    "",
  ].join("\n");
}
