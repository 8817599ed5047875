// A UDP notes service on a tsxen guest: every datagram sent to UDP port 5000
// is stored on the disk and answered with "#<n> <text>". Sector 0 of the
// disk holds the count, sector n holds note n, so the notes outlive the
// guest: run it in the sim, then under Xen, with the same disk file.
import { log } from "tsxen";
import { connectVifs } from "tsxen/drivers/netfront";
import { connectDisks, Blkfront, BlkHandler, BlkRequest, SECTOR_SIZE } from "tsxen/drivers/blkfront";
import { NetStack, UdpHandler } from "tsxen/drivers/net/stack";

const PORT: u16 = 5000;
const MAGIC: u32 = 0x65746f6e;   // "note"
const MAX_TEXT = 400;

class Notes extends UdpHandler {
  header: usize = heap.alloc(SECTOR_SIZE);   // sector 0: MAGIC, then the count
  count: u32 = 0;

  constructor(public disk: Blkfront) {
    super();
  }

  onDatagram(stack: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: i32): void {
    const text = String.UTF8.decodeUnsafe(data, <usize>min(len, MAX_TEXT)).trimEnd();
    const n = ++this.count;
    const sector = heap.alloc(SECTOR_SIZE);
    memory.fill(sector, 0, SECTOR_SIZE);
    const bytes = String.UTF8.encode(text);
    memory.copy(sector, changetype<usize>(bytes), bytes.byteLength);
    this.disk.write(<u64>n, 1, sector, new StoreNote(this, stack, srcIp, srcPort, n, text));
  }
}

// Stores one note: its sector first, then the header with the new count,
// then answers the sender. onDone runs from the event loop as each write completes.
class StoreNote extends BlkHandler {
  step: i32 = 0;

  constructor(public notes: Notes, public stack: NetStack, public ip: u32, public port: u16, public n: u32, public text: string) {
    super();
  }

  onDone(req: BlkRequest): void {
    if (req.error !== null) {
      log("notes: disk error: " + req.error!);
      return;
    }
    const header = this.notes.header;
    if (this.step++ == 0) {
      if (this.n > load<u32>(header, 4)) store<u32>(header, this.n, 4);
      this.notes.disk.write(0, 1, header, this);
      return;
    }
    const reply = String.UTF8.encode("#" + this.n.toString() + " " + this.text);
    this.stack.sendTo(this.ip, this.port, PORT, changetype<usize>(reply), reply.byteLength);
    log("notes: stored #" + this.n.toString() + " " + this.text);
  }
}

export function main(): void {
  const disks = connectDisks();
  const vifs = connectVifs();
  if (disks.length == 0 || disks[0].broken !== null || vifs.length == 0 || vifs[0].broken !== null) {
    log("notes: needs a disk and a vif (tsxen sim/run --vif --disk FILE)");
    return;
  }
  const notes = new Notes(disks[0]);
  const err = notes.disk.readSync(0, 1, notes.header);
  if (err !== null) {
    log("notes: cannot read the disk: " + err);
    return;
  }
  if (load<u32>(notes.header) != MAGIC) {   // a new disk
    memory.fill(notes.header, 0, SECTOR_SIZE);
    store<u32>(notes.header, MAGIC);
  }
  notes.count = load<u32>(notes.header, 4);
  const stack = new NetStack(vifs[0]);
  stack.bind(PORT, notes);
  log("notes: " + notes.count.toString() + " notes on disk; ready on UDP port " + PORT.toString());
  // main returns; the event loop keeps running while the vif is connected.
}
