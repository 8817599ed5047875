// Under test in tests/xen/devices.test.ts (a libvirt domain with a vif and a
// disk): reports its command line and RAM, writes a marker into sector 0 of
// each writable disk, echoes UDP on port 7 of its first vif and logs the text
// of each datagram ("devices: datagram <text>"), then waits to be shut down.
import { log, startInfo } from "tsxen";
import { connectDisks, SECTOR_SIZE } from "tsxen/drivers/blkfront";
import { connectVifs } from "tsxen/drivers/netfront";
import { NetStack, UdpHandler } from "tsxen/drivers/net/stack";

class Echo extends UdpHandler {
  onDatagram(stack: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: i32): void {
    log("devices: datagram " + String.UTF8.decodeUnsafe(data, <usize>len));
    stack.sendTo(srcIp, srcPort, dstPort, data, len);
  }
}

export function main(): void {
  const si = startInfo();
  log("devices: cmdline '" + si.cmdLine + "', " + (si.nrPages / 256).toString() + " MiB");
  const disks = connectDisks();
  const sector = heap.alloc(SECTOR_SIZE);
  for (let i = 0; i < disks.length; i++) {
    const d = disks[i];
    if (d.broken !== null || d.readOnly) continue;
    memory.fill(sector, 0, SECTOR_SIZE);
    const text = String.UTF8.encode("tsxen devices test: " + d.name() + "\n");
    memory.copy(sector, changetype<usize>(text), text.byteLength);
    let err = d.writeSync(0, 1, sector);
    if (err === null) err = d.flushSync();
    log("devices: " + d.name() + " sector 0 " + (err === null ? "written" : "failed: " + err!));
  }
  const vifs = connectVifs();
  if (vifs.length == 0 || vifs[0].broken !== null) {
    log("devices: no usable vif");
    return;
  }
  new NetStack(vifs[0]).bind(7, new Echo());
  log("devices: ready");
}
