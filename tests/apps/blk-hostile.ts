// Test app (tests/sim/blkfront.test.ts, hostile fuzz): keeps every disk
// busy with random async batches and sync calls until the backend's
// misbehaviour breaks it (or `ops` requests went by, or a batch is still
// unanswered after 60 s: a backend that never answers is slow, not broken,
// as far as the driver can tell), then waits for the driver's teardown and
// reports what happened and the grants left in use. Data is not checked
// here: a hostile backend may return anything.
import { log, grantsInUse, Condition, waitFor, exit } from "tsxen";
import { Blkfront, BlkHandler, BlkRequest, BlkOptions, connectAll } from "tsxen/drivers/blkfront";
import { rand, arg, seedRandom } from "./test-support";

class Batch extends Condition {
  left: i32 = 0;
  errors: i32 = 0;
  done(): bool { return this.left == 0; }
}

class Count extends BlkHandler {
  constructor(public batch: Batch) { super(); }
  onDone(req: BlkRequest): void {
    this.batch.left--;
    if (req.error !== null) this.batch.errors++;
  }
}

class Done extends Condition {
  constructor(public req: BlkRequest) { super(); }
  done(): bool { return this.req.done; }
}

// The driver has torn the disk down: everything given to the backend is back.
class Released extends Condition {
  constructor(public dev: Blkfront) { super(); }
  done(): bool { return !this.dev.granted; }
}

const MAX_LEN: u32 = 200;

export function main(): void {
  seedRandom(<u32>arg("seed", 1));
  const ops = arg("ops", 300);
  const opts = new BlkOptions();
  opts.timeoutNs = 5_000_000_000;
  opts.slowNs = 5_000_000_000;
  opts.poolPages = arg("pool", 256);
  const buffer = heap.alloc(<usize>MAX_LEN * 512 * 8);
  const disks = connectAll(opts);
  for (let d = 0; d < disks.length; d++) {
    const dev = disks[d];
    if (dev.broken !== null) {
      waitFor(new Released(dev), 60_000_000_000);
      log("blk-hostile: disk " + dev.info.id + " broken after 0 requests (0 errors): " + dev.broken!);
      log("blk-hostile: disk " + dev.info.id + " released " + (!dev.granted ? "yes" : "no") + ", leaked " + dev.leakedGrants.toString());
      continue;
    }
    let done = 0, errors = 0;
    let stalled = false;
    while (dev.broken === null && done < ops) {
      const batch = new Batch();
      const n = 1 + <i32>(rand() % 8);
      for (let k = 0; k < n; k++, done++) {
        let count = <u64>(1 + rand() % MAX_LEN);
        if (count > dev.sectors) count = dev.sectors;
        const sector = <u64>rand() % (dev.sectors - count + 1);
        const buf = buffer + <usize>k * MAX_LEN * 512;
        const kind = rand() % 8;
        if (kind == 0) {
          // A sync flush waits for everything before it: only when nothing is unanswered.
          const flush = dev.flush();
          if (!waitFor(new Done(flush), 60_000_000_000)) { stalled = true; break; }
          if (flush.error !== null) errors++;
          continue;
        }
        batch.left++;
        if (kind < 4) dev.read(sector, count, buf, new Count(batch));
        else if (kind < 7) dev.write(sector, count, buf, new Count(batch));
        else dev.discard(sector, count, new Count(batch));
      }
      if (stalled) break;
      // Requests of a broken disk complete (with an error) too.
      if (!waitFor(batch, 60_000_000_000)) { stalled = true; break; }
      errors += batch.errors;
    }
    if (stalled) log("blk-hostile: disk " + dev.info.id + " still has requests in flight after 60 s (" + dev.stats.slowRequests.toString() + " reported slow)");
    if (dev.broken !== null) {
      waitFor(new Released(dev), 60_000_000_000);
      log("blk-hostile: disk " + dev.info.id + " broken after " + done.toString() + " requests (" + errors.toString() + " errors): " + dev.broken!);
    } else {
      dev.close();
      log("blk-hostile: disk " + dev.info.id + " survived " + done.toString() + " requests (" + errors.toString() + " errors)");
    }
    log("blk-hostile: disk " + dev.info.id + " released " + (!dev.granted ? "yes" : "no") + ", leaked " + dev.leakedGrants.toString());
  }
  log("blk-hostile: grants in use " + grantsInUse().toString());
  exit(0);
}
