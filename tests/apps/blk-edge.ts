// Test app (tests/sim/blkfront.test.ts): the edges of blkfront's API on the
// first disk, chosen by the command line "case=<name>":
//   ro          a read-only disk: writes and discards refused with a clear
//               error, reads work (prints the whole disk's CRC-32)
//   eopnotsupp  the backend offers flush but refuses it: the first flush
//               fails, later ones are no-ops, writes still work
//   sector4k    sector-size 4096: unaligned requests refused, aligned work
//   ioerror     the backend fails some sectors: those requests fail, the
//               disk stays usable
//   slow        the backend takes 45 s for the whole-disk discard: it
//               completes, and the disk stays usable
//   reuse       one BlkRequest submitted again and again with other
//               operations (a flush left with a sector range, an unknown
//               operation): each completes or is refused, none is stuck
// Every check prints "blk-edge: ok <what>" or "blk-edge: FAIL <what>".
import { log, startInfo, grantsInUse, exit } from "tsxen";
import { Blkfront, BlkRequest, connectAll, closeAll, BLK_READ, BLK_WRITE, BLK_FLUSH } from "tsxen/drivers/blkfront";
import { Condition, waitFor } from "tsxen";
import { crc32Update, hex32 } from "tsxen/drivers/digest";

let failures = 0;
function check(ok: bool, what: string): void {
  log((ok ? "blk-edge: ok " : "blk-edge: FAIL ") + what);
  if (!ok) failures++;
}

function refused(err: string | null, words: string, what: string): void {
  check(err !== null && err!.includes(words), what + ": " + (err === null ? "accepted" : err!));
}

function arg(name: string): string {
  const words = startInfo().cmdLine.split(" ");
  for (let i = 0; i < words.length; i++) if (words[i].startsWith(name + "=")) return words[i].substr(name.length + 1);
  return "";
}

function readOnly(dev: Blkfront, buf: usize): void {
  check(dev.readOnly, "the disk is read-only (mode " + dev.mode + ")");
  refused(dev.writeSync(0, 8, buf), "read-only", "write refused");
  refused(dev.discardSync(0, 8), "read-only", "discard refused");
  const size = <usize>(dev.sectors * 512);
  const all = heap.alloc(size);
  const err = dev.readSync(0, dev.sectors, all);
  check(err === null, "read the whole disk");
  log("blk-edge: crc32 " + hex32(crc32Update(0, all, size)));
  check(dev.flushSync() === null, "flush of a read-only disk");
}

function eopnotsupp(dev: Blkfront, buf: usize): void {
  check(dev.featureFlush, "the backend offers flush");
  refused(dev.flushSync(), "not supported", "the refused flush fails");
  check(!dev.featureFlush, "flush is off after the refusal");
  check(dev.flushSync() === null, "later flushes complete");
  check(dev.writeSync(0, 8, buf) === null && dev.readSync(0, 8, buf) === null, "reads and writes still work");
}

function sector4k(dev: Blkfront, buf: usize): void {
  check(dev.sectorSize == 4096, "sector-size 4096");
  refused(dev.readSync(1, 8, buf), "not aligned", "unaligned start refused");
  refused(dev.readSync(0, 4, buf), "not aligned", "partial block refused");
  check(dev.writeSync(8, 16, buf) === null && dev.readSync(8, 16, buf) === null, "aligned requests work");
}

function ioError(dev: Blkfront, buf: usize): void {
  refused(dev.readSync(96, 16, buf), "I/O error", "read of a bad sector fails");
  refused(dev.writeSync(100, 1, buf), "I/O error", "write of a bad sector fails");
  check(dev.broken === null, "the disk is not broken by I/O errors");
  check(dev.readSync(0, 64, buf) === null, "other sectors still read");
  check(dev.stats.errors == 2, "two requests counted as errors (" + dev.stats.errors.toString() + ")");
}

function slow(dev: Blkfront, buf: usize): void {
  check(dev.discardSync(0, dev.sectors) === null, "the whole-disk discard completed");
  check(dev.broken === null, "the disk is not broken");
  check(dev.writeSync(8, 8, buf) === null && dev.readSync(8, 8, buf) === null, "reads and writes after the slow requests");
}

class Done extends Condition {
  constructor(public req: BlkRequest) { super(); }
  done(): bool { return this.req.done; }
}

function again(dev: Blkfront, req: BlkRequest, op: u8, sector: u64, count: u64): string | null {
  req.op = op;
  req.sector = sector;
  req.count = count;
  dev.submit(req);
  if (!waitFor(new Done(req), 10_000_000_000)) return "stuck";
  return req.error;
}

function reuse(dev: Blkfront, buf: usize): void {
  const req = new BlkRequest(dev, BLK_WRITE, 0, 8, buf, null);
  check(again(dev, req, BLK_WRITE, 16, 8) === null, "a write");
  check(again(dev, req, BLK_FLUSH, 1120, 49) === null, "the same request as a flush, its sector range left over");
  check(again(dev, req, BLK_READ, 16, 8) === null, "then as a read");
  refused(again(dev, req, 9, 16, 8), "unknown operation 9", "an unknown operation");
  check(again(dev, req, BLK_READ, 24, 8) === null && dev.queue.length == 0 && dev.active.length == 0, "and a read again: nothing left queued or active");
}

export function main(): void {
  const disks = connectAll();
  const buf = heap.alloc(64 * 512);
  const which = arg("case");
  if (disks.length == 0 || disks[0].broken !== null) {
    check(false, "connect: " + (disks.length == 0 ? "no disk" : disks[0].broken!));
  } else if (which == "ro") readOnly(disks[0], buf);
  else if (which == "eopnotsupp") eopnotsupp(disks[0], buf);
  else if (which == "sector4k") sector4k(disks[0], buf);
  else if (which == "ioerror") ioError(disks[0], buf);
  else if (which == "slow") slow(disks[0], buf);
  else if (which == "reuse") reuse(disks[0], buf);
  else check(false, "unknown case " + which);
  closeAll(disks);
  log("blk-edge: grants in use " + grantsInUse().toString());
  log("blk-edge: " + failures.toString() + " failures");
  exit(0);
}
