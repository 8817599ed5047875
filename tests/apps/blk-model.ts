// Test app (tests/sim/blkfront.test.ts): on every disk, random reads,
// writes, flushes and discards, async in batches and sync, checked against
// an in-memory model of the disk that starts as a full read. Command line:
// "seed=<n> ops=<n>". Prints per disk the model's CRC-32 at the start and
// the end (the test compares them with the sim's disk), then closes the
// disks and prints how many grants are still in use.
import { log, grantsInUse, Condition, waitFor, exit } from "tsxen";
import { Blkfront, BlkHandler, BlkRequest, BlkOptions, connectAll, closeAll, BLK_READ } from "tsxen/drivers/blkfront";
import { crc32Update, hex32 } from "tsxen/drivers/digest";
import { rand, below, arg, seedRandom } from "./test-support";

let failures = 0;
function fail(what: string): void {
  failures++;
  if (failures <= 20) log("blk-model: FAIL " + what);
}

// Checks one async request at completion: no error, and a read returns
// what the model held when it was submitted (a copy in `expected`).
class Check extends BlkHandler {
  constructor(public what: string, public expected: usize, public bytes: usize, public batch: Batch) { super(); }
  onDone(req: BlkRequest): void {
    this.batch.left--;
    if (req.error !== null) { fail(this.what + ": " + req.error!); return; }
    if (req.op == BLK_READ && memory.compare(req.buffer, this.expected, this.bytes) != 0) fail(this.what + ": data differs from the model");
  }
}

class Batch extends Condition {
  left: i32 = 0;
  done(): bool { return this.left == 0; }
}

// Buffers for one batch, allocated once (the stub runtime never frees).
const MAX_BATCH = 8;
const MAX_LEN: u64 = 600; // sectors: several ring requests even with indirect ones
const buffers = new StaticArray<usize>(MAX_BATCH);
const expectations = new StaticArray<usize>(MAX_BATCH);

function runDisk(dev: Blkfront, ops: i32): void {
  const sectors = dev.sectors;
  const size = <usize>(sectors * 512);
  const model = heap.alloc(size);
  let err = dev.readSync(0, sectors, model);
  if (err !== null) { fail("initial read: " + err!); return; }
  log("blk-model: disk " + dev.info.id + " initial crc32 " + hex32(crc32Update(0, model, size)));

  // Refusals, with the disk still usable afterwards.
  const one = heap.alloc(1024);
  err = dev.readSync(sectors - 1, 2, one);
  if (err === null || !err!.includes("out of range")) fail("read past the end was not refused: " + (err === null ? "ok" : err!));
  if (!dev.featureDiscard) {
    err = dev.discardSync(0, 8);
    if (err === null || !err!.includes("does not support discard")) fail("discard without the feature was not refused");
  }

  let done = 0;
  while (done < ops) {
    const batch = new Batch();
    const sync = (rand() & 3) == 0;
    const n = 1 + <i32>below(MAX_BATCH);
    for (let k = 0; k < n && done < ops; k++, done++) {
      const kind = rand() % 10;
      let count = 1 + below(MAX_LEN);
      if (count > sectors) count = sectors;
      const sector = below(sectors - count + 1);
      const bytes = <usize>(count * 512);
      const buf = buffers[k], expected = expectations[k];
      const what = "op " + done.toString() + " sectors " + sector.toString() + "+" + count.toString();
      if (kind < 4) {
        for (let i: usize = 0; i < bytes; i += 4) store<u32>(buf + i, rand());
        memory.copy(model + <usize>(sector * 512), buf, bytes);
        if (sync) {
          const e = dev.writeSync(sector, count, buf);
          if (e !== null) fail("write " + what + ": " + e!);
        } else {
          batch.left++;
          dev.write(sector, count, buf, new Check("write " + what, 0, 0, batch));
        }
      } else if (kind < 8) {
        memory.copy(expected, model + <usize>(sector * 512), bytes);
        if (sync) {
          const e = dev.readSync(sector, count, buf);
          if (e !== null) fail("read " + what + ": " + e!);
          else if (memory.compare(buf, expected, bytes) != 0) fail("read " + what + ": data differs from the model");
        } else {
          batch.left++;
          dev.read(sector, count, buf, new Check("read " + what, expected, bytes, batch));
        }
      } else if (kind == 8) {
        if (sync) {
          const e = dev.flushSync();
          if (e !== null) fail("flush: " + e!);
        } else {
          batch.left++;
          dev.flush(new Check("flush", 0, 0, batch));
        }
      } else if (dev.featureDiscard) {
        batch.left++;
        const req = dev.discard(sector, count, new Check("discard " + what, 0, 0, batch));
        // The driver trimmed the range to whole discard units: that is what goes.
        if (req.error === null && req.count > 0) memory.fill(model + <usize>(req.sector * 512), 0, <usize>(req.count * 512));
      }
    }
    if (!waitFor(batch, 60_000_000_000)) { fail("batch did not complete"); return; }
    if (dev.broken !== null) { fail("disk broke: " + dev.broken!); return; }
  }
  err = dev.flushSync();
  if (err !== null) fail("final flush: " + err!);
  const check = heap.alloc(size);
  err = dev.readSync(0, sectors, check);
  if (err !== null) fail("final read: " + err!);
  else if (memory.compare(check, model, size) != 0) fail("final read differs from the model");
  log("blk-model: disk " + dev.info.id + " " + ops.toString() + " ops, final crc32 " + hex32(crc32Update(0, model, size)) +
      ", " + dev.stats.ringRequests.toString() + " ring requests (" + dev.stats.indirectRequests.toString() + " indirect), max in flight " + dev.stats.maxInFlight.toString());
}

export function main(): void {
  seedRandom(<u32>arg("seed", 1));
  const ops = arg("ops", 200);
  const opts = new BlkOptions();
  opts.poolPages = arg("pool", 256);
  opts.maxRingPageOrder = <u32>arg("order", 2);
  opts.maxIndirectSegments = <u32>arg("indirect", 64);
  for (let k = 0; k < MAX_BATCH; k++) {
    buffers[k] = heap.alloc(<usize>(MAX_LEN * 512));
    expectations[k] = heap.alloc(<usize>(MAX_LEN * 512));
  }
  const disks = connectAll(opts);
  if (disks.length == 0) fail("no disk");
  for (let i = 0; i < disks.length; i++) {
    if (disks[i].broken !== null) { fail("disk " + disks[i].info.id + " did not connect: " + disks[i].broken!); continue; }
    runDisk(disks[i], ops);
  }
  closeAll(disks);
  let leaked = 0;
  for (let i = 0; i < disks.length; i++) leaked += disks[i].leakedGrants;
  log("blk-model: grants in use " + grantsInUse().toString() + ", leaked " + leaked.toString());
  log("blk-model: " + failures.toString() + " failures");
  exit(0);
}
