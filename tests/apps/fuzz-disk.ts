// Test app (tests/fuzz/backends.ts): keeps whichever disk is connected busy
// with random reads, writes, flushes and discards (async, up to 8 in
// flight), against backends the fuzzer attaches and detaches one after
// another. Data is not checked: a hostile backend may return anything.
import { log, armTimer, Timer, TimerHandler } from "tsxen";
import { Blkfront, BlkHandler, BlkRequest, BlkOptions, DiskHandler, connectDisks, BLK_READ, BLK_WRITE, BLK_FLUSH, BLK_DISCARD } from "tsxen/drivers/blkfront";
import { rand, seedRandom } from "./test-support";

const MAX_LEN: u32 = 64;
const buffers = heap.alloc(<usize>MAX_LEN * 512 * 8);
let disk: Blkfront | null = null;
let inFlight = 0;

class Done extends BlkHandler {
  onDone(req: BlkRequest): void { inFlight--; }
}
const done = new Done();

// A fixed set of requests, reused (no allocation per request).
const requests = new Array<BlkRequest>();

class Work extends TimerHandler {
  onTimer(t: Timer): void {
    const dev = disk;
    if (dev !== null && dev.connected && dev.sectors > 0) {
      for (let k = 0; k < 8 && inFlight < 8; k++) {
        let req: BlkRequest | null = null;
        for (let i = 0; i < requests.length; i++) if (!requests[i].pending && requests[i].dev === dev) { req = requests[i]; break; }
        if (req === null) {
          req = new BlkRequest(dev, 0, 0, 0, 0, done);
          requests.push(req);
        }
        let count = <u64>(1 + rand() % MAX_LEN);
        if (count > dev.sectors) count = dev.sectors;
        req.sector = <u64>rand() % (dev.sectors - count + 1);
        req.count = count;
        req.buffer = buffers + <usize>(rand() % 8) * MAX_LEN * 512;
        const kind = rand() % 8;
        req.op = kind == 0 ? BLK_FLUSH : kind < 4 ? BLK_READ : kind < 7 ? BLK_WRITE : BLK_DISCARD;
        inFlight++;
        dev.submit(req);
      }
    }
    armTimer(t, 1_000_000);
  }
}

class Disks extends DiskHandler {
  onConnect(dev: Blkfront): void { disk = dev; }
  onDisconnect(dev: Blkfront, why: string): void {}
}

export function main(): void {
  seedRandom(7);
  const opts = new BlkOptions();
  opts.slowNs = 1_000_000_000;
  opts.reconnectTimeoutNs = 1_000_000_000;
  opts.timeoutNs = 2_000_000_000;
  connectDisks(opts, new Disks());
  armTimer(new Timer(new Work()), 1_000_000);
  log("fuzz-disk: ready");
}
