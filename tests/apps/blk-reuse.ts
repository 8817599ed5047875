// Test app: keeps 4 reads and writes in flight on the first disk with
// BlkRequests it reuses (each completion submits its request again), and a
// timer re-armed every millisecond: the steady state must allocate
// nothing (tests/sim/allocations.test.ts counts).
import { log, armTimer, Timer, TimerHandler } from "tsxen";
import { Blkfront, BlkHandler, BlkRequest, connectAll, BLK_READ, BLK_WRITE } from "tsxen/drivers/blkfront";

const buffers = heap.alloc(4 * 8 * 4096);
let completed: u32 = 0;

class Again extends BlkHandler {
  onDone(req: BlkRequest): void {
    completed++;
    req.op = completed & 1 ? BLK_READ : BLK_WRITE;
    req.sector = <u64>((completed * 24) % 1024);
    req.dev.submit(req);
  }
}

class Tick extends TimerHandler {
  ticks: u32 = 0;
  onTimer(t: Timer): void {
    this.ticks++;
    armTimer(t, 1_000_000);
  }
}

export function main(): void {
  const disks = connectAll();
  if (disks.length == 0 || disks[0].broken !== null) { log("blk-reuse: no disk"); return; }
  const dev: Blkfront = disks[0];
  const again = new Again();
  for (let i = 0; i < 4; i++) dev.submit(new BlkRequest(dev, BLK_WRITE, <u64>(i * 64), 64, buffers + <usize>i * 8 * 4096, again));
  armTimer(new Timer(new Tick()), 1_000_000);
  log("blk-reuse: running");
}
