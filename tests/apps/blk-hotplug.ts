// Test app: a disk in use while the toolstack detaches and re-attaches it,
// or its backend fails and comes back. A timer writes a sector and reads it
// back every 2 ms with the blocking calls (handlers may block; a request
// held while the backend is away completes once it is back). The disk
// handler logs every connect and disconnect; the shutdown report says how
// many round trips worked and how the failures read.
import { log, setTimer, Timer, TimerHandler, onShutdownRequest, ShutdownHandler } from "tsxen";
import { Blkfront, BlkOptions, DiskHandler, connectDisks } from "tsxen/drivers/blkfront";

const buf = heap.alloc(4096);
const back = heap.alloc(4096);
let current: Blkfront | null = null;

class Disks extends DiskHandler {
  onConnect(dev: Blkfront): void {
    current = dev;
    log("blk-hotplug: " + dev.name() + " connected (" + dev.connects.toString() + ")");
  }
  onDisconnect(dev: Blkfront, why: string): void {
    log("blk-hotplug: " + dev.name() + " disconnected: " + why);
  }
}

class Work extends TimerHandler {
  n: u32 = 0;
  ok: i32 = 0;
  failed: i32 = 0;
  mismatched: i32 = 0;
  firstError: string = "none";
  lastError: string = "none";
  onTimer(t: Timer): void {
    const dev = current;
    if (dev !== null && !dev.detached && dev.broken === null) {
      const sector = <u64>(this.n % 64) * 8;
      memory.fill(buf, <u8>this.n, 4096);
      let err = dev.writeSync(sector, 8, buf);
      if (err === null) err = dev.readSync(sector, 8, back);
      if (err !== null) {
        if (this.failed++ == 0) this.firstError = err!;
        this.lastError = err!;
      } else if (memory.compare(buf, back, 4096) != 0) {
        this.mismatched++;
      } else {
        this.ok++;
      }
      this.n++;
    }
    setTimer(2_000_000, this);
  }
}

const work = new Work();

class Report extends ShutdownHandler {
  onShutdown(reason: u32): void {
    const dev = current;
    log("blk-hotplug: round trips ok " + work.ok.toString() + ", failed " + work.failed.toString() + ", mismatched " + work.mismatched.toString() + "; first error: " + work.firstError + "; last error: " + work.lastError);
    if (dev !== null) log("blk-hotplug: requests reissued " + dev.stats.reissued.toString() + ", leaked grants " + dev.leakedGrants.toString());
  }
}

export function main(): void {
  onShutdownRequest(new Report());
  const opts = new BlkOptions();
  opts.reconnectTimeoutNs = 5_000_000_000;
  connectDisks(opts, new Disks());
  setTimer(2_000_000, work);
  log("blk-hotplug: ready");
}
