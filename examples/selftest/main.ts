// examples/selftest: exercises the protocol core against a real toolstack
// and prints one "selftest: ok <what>" or "selftest: FAIL <what>" line per
// check: xenstore reads/writes/removes, permissions, a watch fired by dom0,
// a transaction, a grant (setup + end_access), a 100 ms timer measured with
// the pvclock. Then it waits for `xl shutdown` / `xl reboot`.
// The dom0 side (tests/xen/protocol-core.test.ts) writes data/ping when it
// sees "selftest: waiting for data/ping", and shuts the guest down when it
// sees "selftest: ready".
import {
  log, monotonicNs, setTimer, Timer, TimerHandler, Condition, waitFor, runOnce,
  grantPage, endAccess, grantsInUse, grantTableInit, onShutdownRequest, ShutdownHandler, SHUTDOWN_reboot,
} from "tsxen";
import * as xs from "tsxen/xenstore/client";
import { WatchHandler, TransactionBody } from "tsxen/xenstore/client";

let failures = 0;

function check(ok: bool, what: string): void {
  log((ok ? "selftest: ok " : "selftest: FAIL ") + what);
  if (!ok) failures++;
}

class PingWatch extends WatchHandler {
  fired: i32 = 0;
  value: string = "";
  onWatch(path: string, token: string): void {
    this.fired++;
    const r = xs.read("data/ping");
    if (r.error === null) this.value = r.text();
  }
}

class Pinged extends Condition {
  constructor(public w: PingWatch) { super(); }
  done(): bool { return this.w.value == "pong"; }
}

class Counter extends TransactionBody {
  run(tx: u32): string | null {
    const r = xs.read("data/counter", tx);
    const n = r.error === null ? I32.parseInt(r.text()) : 0;
    const w1 = xs.write("data/counter", (n + 1).toString(), tx);
    if (w1.error !== null) return w1.error;
    return xs.write("data/counter-copy", (n + 1).toString(), tx).error;
  }
}

class Fired extends TimerHandler {
  at: u64 = 0;
  onTimer(timer: Timer): void { this.at = monotonicNs(); }
}

class TimerDone extends Condition {
  constructor(public f: Fired) { super(); }
  done(): bool { return this.f.at != 0; }
}

class Goodbye extends ShutdownHandler {
  onShutdown(reason: u32): void {
    log("selftest: shutdown requested: " + (reason == SHUTDOWN_reboot ? "reboot" : "poweroff"));
  }
}

function xenstoreChecks(): void {
  const domid = xs.read("domid");
  const name = xs.read("name");
  check(domid.error === null && name.error === null, "read domid " + domid.text() + " and name " + name.text());
  check(xs.write("data/selftest/a", "alpha").error === null, "write data/selftest/a");
  check(xs.read("data/selftest/a").text() == "alpha", "read back data/selftest/a");
  check(xs.mkdir("data/selftest/dir").error === null, "mkdir data/selftest/dir");
  const dir = xs.directory("data/selftest");
  check(dir.error === null && dir.strings().join(",") == "a,dir", "directory data/selftest = a,dir");
  const perms = xs.getPerms("data/selftest/a");
  check(perms.error === null && perms.strings().length > 0 && perms.strings()[0].endsWith(domid.text()), "get_perms: owned by us (" + perms.strings().join(" ") + ")");
  check(xs.rm("data/selftest").error === null, "rm data/selftest");
  const gone = xs.read("data/selftest/a");
  check(gone.error !== null && gone.error! == "ENOENT", "read after rm: ENOENT");
  const denied = xs.write("/local/domain/0/selftest-intrusion", "x");
  check(denied.error !== null && denied.error! == "EACCES", "write to dom0's tree: EACCES");
  const home = xs.getDomainPath(<u32>I32.parseInt(domid.text()));
  check(home.error === null && home.text() == "/local/domain/" + domid.text(), "get_domain_path: " + home.text());
  check(xs.transact(new Counter()) === null, "transaction committed");
  check(xs.read("data/counter").text() == "1" && xs.read("data/counter-copy").text() == "1", "transaction wrote both keys");
}

function watchCheck(): void {
  const w = new PingWatch();
  check(xs.watch("data/ping", "selftest-ping", w).error === null, "watch data/ping");
  log("selftest: waiting for data/ping");
  check(waitFor(new Pinged(w), 30_000_000_000), "watch fired with data/ping = pong (" + w.fired.toString() + " events)");
  xs.unwatch("data/ping", "selftest-ping");
}

function grantCheck(): void {
  const err = grantTableInit();
  check(err === null, "grant table set up" + (err !== null ? ": " + err! : ""));
  const raw = heap.alloc(8192);
  const page = (raw + 4095) & ~(<usize>4095);
  const ref = grantPage(0, page, false);
  check(ref >= 8, "granted a page to dom0 (ref " + ref.toString() + ")");
  check(grantsInUse() == 1, "one grant in use");
  check(ref >= 0 && endAccess(<u32>ref), "end_access");
  check(grantsInUse() == 0, "no grant left in use");
}

function timerCheck(): void {
  const f = new Fired();
  const t0 = monotonicNs();
  setTimer(100_000_000, f);
  check(waitFor(new TimerDone(f), 10_000_000_000), "timer fired");
  const ms = (f.at - t0) / 1_000_000;
  check(f.at - t0 >= 100_000_000, "100 ms timer took " + ms.toString() + " ms by the pvclock");
}

export function main(): void {
  log("selftest: boot at system time " + (monotonicNs() / 1_000_000).toString() + " ms");
  xenstoreChecks();
  watchCheck();
  grantCheck();
  timerCheck();
  log("selftest: " + failures.toString() + " failures");
  onShutdownRequest(new Goodbye());
  log("selftest: ready");
  for (;;) runOnce(0); // until xl shutdown / xl reboot (lifecycle.ts)
}
