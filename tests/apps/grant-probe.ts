// Test app: grants dom0 a writable page and a read-only page, publishes the
// references in data/rw-ref and data/ro-ref, then tries to end the writable
// grant every 10 ms until it succeeds (it must not while dom0 has it mapped),
// ends the read-only one, and reports the counts.
import { log, grantPage, endAccess, grantsInUse, sleep, waitFor, Condition } from "tsxen";
import * as xs from "tsxen/xenstore/client";
import { allocPages } from "tsxen/runtime/pages";

class Flag extends Condition {
  done(): bool { return xs.read("data/mapped").text() == "1"; }
}

export function main(): void {
  const pages = allocPages(2);
  store<u32>(pages, 0xfeedf00d);
  const rw = grantPage(0, pages, false);
  const ro = grantPage(0, pages + 4096, true);
  log("grant: rw " + rw.toString() + " ro " + ro.toString() + ", in use " + grantsInUse().toString());
  xs.write("data/ro-ref", ro.toString());
  xs.write("data/rw-ref", rw.toString());
  waitFor(new Flag(), 10_000_000_000);
  let refused = 0;
  while (!endAccess(<u32>rw)) {
    refused++;
    sleep(10_000_000);
  }
  log("grant: end_access refused " + refused.toString() + " times while mapped, then succeeded");
  log("grant: dom0 wrote " + load<u32>(pages).toString(16));
  log("grant: read-only end_access " + (endAccess(<u32>ro) ? "ok" : "refused"));
  log("grant: ending again " + (endAccess(<u32>rw) ? "ok" : "refused") + ", in use " + grantsInUse().toString());
}
