// examples/blk-verify: checks every disk end to end through blkfront.
// A writable disk gets a pseudorandom pattern (splitmix64 of the word's
// position, so every sector is distinct) over its whole length, a flush,
// then a full read that is compared with the pattern. A read-only disk must
// refuse a write, and is read whole. For each disk the CRC-32 of its
// contents is printed ("blk-verify: xvda: ... crc32 <hex>"), the same
// number `busybox crc32 <backing file>` prints in dom0
// (tests/xen/blkfront.test.ts compares them). Command line: "seed=<n>".
import { log, startInfo, monotonicNs, grantsInUse, exit } from "tsxen";
import { Blkfront, BlkRequest, connectAll, closeAll } from "tsxen/drivers/blkfront";
import { crc32Update, hex32 } from "tsxen/drivers/digest";

// I/O in chunks of 4 MiB, two buffers: one chunk is on the ring while the
// CPU makes or checks the other.
const CHUNK_SECTORS: u64 = 8192;
const CHUNK: usize = <usize>CHUNK_SECTORS * 512;

let failures = 0;
function fail(what: string): void {
  failures++;
  log("blk-verify: FAIL " + what);
}

function mix(x: u64): u64 {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

// The pattern's bytes [offset, offset + len) of the disk with key `key`.
function fill(key: u64, buf: usize, offset: u64, len: usize): void {
  const first = offset >> 3;
  for (let i: usize = 0; i < len; i += 8) store<u64>(buf + i, mix(key ^ (first + <u64>(i >> 3))));
}

// Sectors of `buf` that differ from the pattern.
function mismatches(key: u64, buf: usize, offset: u64, len: usize): u64 {
  const first = offset >> 3;
  let bad: u64 = 0;
  for (let s: usize = 0; s < len; s += 512) {
    for (let i: usize = s; i < s + 512; i += 8) {
      if (load<u64>(buf + i) != mix(key ^ (first + <u64>(i >> 3)))) { bad++; break; }
    }
  }
  return bad;
}

function ms(since: u64): string {
  return ((monotonicNs() - since) / 1_000_000).toString() + " ms";
}

function rate(bytes: u64, since: u64): string {
  const ns = monotonicNs() - since;
  return ns == 0 ? "" : ", " + (bytes * 1000 / ns).toString() + " MB/s";
}

function arg(name: string, fallback: u64): u64 {
  const words = startInfo().cmdLine.split(" ");
  for (let i = 0; i < words.length; i++) if (words[i].startsWith(name + "=")) return U64.parseInt(words[i].substr(name.length + 1));
  return fallback;
}

// Waits for a chunk's request; false (after reporting) if it failed.
function finished(dev: Blkfront, req: BlkRequest | null, what: string): bool {
  if (req === null) return true;
  const err = dev.wait(req);
  if (err !== null) { fail(what + ": " + err!); return false; }
  return true;
}

function verifyWritable(dev: Blkfront, key: u64, bufs: StaticArray<usize>): void {
  const name = dev.name();
  const total = dev.sectors;
  const bytes = total * 512;
  log("blk-verify: " + name + ": writing the pattern over " + bytes.toString() + " bytes");
  let t0 = monotonicNs();
  let crc: u32 = 0;
  let pending: BlkRequest | null = null;
  let n = 0;
  for (let sector: u64 = 0; sector < total; sector += CHUNK_SECTORS, n++) {
    const count = total - sector < CHUNK_SECTORS ? total - sector : CHUNK_SECTORS;
    const buf = bufs[n & 1];
    fill(key, buf, sector * 512, <usize>count * 512);
    crc = crc32Update(crc, buf, <usize>count * 512);
    if (!finished(dev, pending, "write")) return;   // the other buffer's write
    pending = dev.write(sector, count, buf);
  }
  if (!finished(dev, pending, "write")) return;
  log("blk-verify: " + name + ": wrote " + bytes.toString() + " bytes in " + ms(t0) + rate(bytes, t0) + ", crc32 " + hex32(crc));
  t0 = monotonicNs();
  const err = dev.flushSync();
  if (err !== null) { fail("flush: " + err!); return; }
  log("blk-verify: " + name + ": flush done in " + ms(t0));

  t0 = monotonicNs();
  let readCrc: u32 = 0;
  let bad: u64 = 0;
  // Read ahead one chunk: chunk n+1 is on the ring while chunk n is checked.
  let first = CHUNK_SECTORS < total ? CHUNK_SECTORS : total;
  pending = dev.read(0, first, bufs[0]);
  n = 0;
  for (let sector: u64 = 0; sector < total; sector += CHUNK_SECTORS, n++) {
    const count = total - sector < CHUNK_SECTORS ? total - sector : CHUNK_SECTORS;
    if (!finished(dev, pending, "read")) return;
    pending = null;
    const next = sector + CHUNK_SECTORS;
    if (next < total) pending = dev.read(next, total - next < CHUNK_SECTORS ? total - next : CHUNK_SECTORS, bufs[(n + 1) & 1]);
    const buf = bufs[n & 1];
    readCrc = crc32Update(readCrc, buf, <usize>count * 512);
    bad += mismatches(key, buf, sector * 512, <usize>count * 512);
  }
  log("blk-verify: " + name + ": read back " + bytes.toString() + " bytes in " + ms(t0) + rate(bytes, t0) + ", crc32 " + hex32(readCrc) + ", " + bad.toString() + " mismatched sectors");
  if (bad != 0 || readCrc != crc) fail(name + ": the disk does not hold what was written");
  else log("blk-verify: " + name + ": verified, crc32 " + hex32(readCrc));
}

function verifyReadOnly(dev: Blkfront, bufs: StaticArray<usize>): void {
  const name = dev.name();
  const err = dev.writeSync(0, 1, bufs[0]);
  if (err === null) fail(name + ": a write to a read-only disk was accepted");
  else log("blk-verify: " + name + ": write refused: " + err!);
  const total = dev.sectors;
  const t0 = monotonicNs();
  let crc: u32 = 0;
  for (let sector: u64 = 0; sector < total; sector += CHUNK_SECTORS) {
    const count = total - sector < CHUNK_SECTORS ? total - sector : CHUNK_SECTORS;
    const e = dev.readSync(sector, count, bufs[0]);
    if (e !== null) { fail(name + ": read: " + e!); return; }
    crc = crc32Update(crc, bufs[0], <usize>count * 512);
  }
  log("blk-verify: " + name + ": read-only, read " + (total * 512).toString() + " bytes in " + ms(t0) + ", crc32 " + hex32(crc));
}

export function main(): void {
  const seed = arg("seed", 0x7473786e);
  const disks = connectAll();
  if (disks.length == 0) fail("no disk (vbd) configured");
  const bufs = new StaticArray<usize>(2);
  bufs[0] = heap.alloc(CHUNK);
  bufs[1] = heap.alloc(CHUNK);
  for (let i = 0; i < disks.length; i++) {
    const dev = disks[i];
    if (dev.broken !== null) { fail(dev.name() + ": " + dev.broken!); continue; }
    if (dev.readOnly) verifyReadOnly(dev, bufs);
    else verifyWritable(dev, mix(seed) ^ <u64>dev.handle, bufs);
  }
  closeAll(disks);
  log("blk-verify: grants in use " + grantsInUse().toString() + " after closing");
  log("blk-verify: " + (failures == 0 ? "PASS" : failures.toString() + " failures"));
  exit(failures == 0 ? 0 : 1);
}
