// Test app: sends through a vif before it is connected; each refused send
// must be counted as a TX drop.
import { log } from "tsxen";
import * as xenbus from "tsxen/xenstore/xenbus";
import { Netfront } from "tsxen/drivers/netfront";

export function main(): void {
  const info = xenbus.deviceInfo("vif", "0");
  if (info === null) { log("net-txdrop: no vif"); return; }
  const dev = new Netfront(info);
  const frame = heap.alloc(60);
  memory.fill(frame, 0xff, 60);
  let refused = 0;
  for (let i = 0; i < 3; i++) if (!dev.send(frame, 60)) refused++;
  log("net-txdrop: refused " + refused.toString() + ", counted " + dev.stats.txDropped.toString());
}
