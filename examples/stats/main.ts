// examples/stats: a UDP echo server (port 7, every vif) that also writes
// and reads back 1 MiB on every disk, and publishes its counters for dom0
// under its xenstore data/tsxen/ (runtime/stats.ts): whenever dom0 asks
// (`tsxen stats <domain>`, or xenstore-write .../data/tsxen/request 1), or
// every N ms with the command line "every=<N>". Runs until xl shuts it down.
import { log, startInfo, publishStatsEvery, publishStatsOnRequest } from "tsxen";
import { connectAll as connectVifs } from "tsxen/drivers/netfront";
import { connectAll as connectDisks, SECTOR_SIZE } from "tsxen/drivers/blkfront";
import { NetStack, UdpHandler } from "tsxen/drivers/net/stack";

class Echo extends UdpHandler {
  onDatagram(stack: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: i32): void {
    stack.sendTo(srcIp, srcPort, dstPort, data, len);
  }
}

// "every=<ms>" from the command line, or 0.
function interval(): u32 {
  const words = startInfo().cmdLine.split(" ");
  for (let i = 0; i < words.length; i++) if (words[i].startsWith("every=")) return <u32>I32.parseInt(words[i].substr(6));
  return 0;
}

export function main(): void {
  const vifs = connectVifs();
  for (let i = 0; i < vifs.length; i++) if (vifs[i].broken === null) new NetStack(vifs[i]).bind(7, new Echo());
  const disks = connectDisks();
  const sectors: u64 = (1 << 20) / SECTOR_SIZE;
  const buf = heap.alloc(<usize>(sectors * SECTOR_SIZE));
  for (let i = 0; i < disks.length; i++) {
    const d = disks[i];
    if (d.broken !== null || d.readOnly || d.sectors < sectors) continue;
    memory.fill(buf, 0x5a, <usize>(sectors * SECTOR_SIZE));
    let err = d.writeSync(0, sectors, buf);
    if (err === null) err = d.readSync(0, sectors, buf);
    log("stats: disk " + d.info.id + ": " + (err === null ? "1 MiB written and read back" : err));
  }
  const every = interval();
  if (every > 0) publishStatsEvery(every);
  else publishStatsOnRequest();
  log("stats: ready, publishing " + (every > 0 ? "every " + every.toString() + " ms" : "on request"));
}
