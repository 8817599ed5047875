// The xenstore client (xenstore/client.ts) and the xenbus wait
// (xenstore/xenbus.ts) against a xenstored that answers in its own time, as
// the real one does: requests go onto the ring whole and in order even when
// a timer makes a request in the middle of a large one; a xenstored that
// stops answering is reported as a dead connection; a watch event that
// arrives while the wait reads the state it watches is not lost.
import test from "tape";
import * as XS from "../../runtime/abi/xs_wire.ts";
import * as XB from "../../runtime/abi/xenbus.ts";
import { willBuild, startedGuest } from "./helpers.ts";
import { MS, rig, whenConnected, requestShutdown, noTrap } from "./net-rig.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/xs-dead.ts");
willBuild("tests/apps/xs-interleave.ts");

test("xenstore: a request larger than the ring, interrupted by a timer's request, reaches an asynchronous xenstored whole; xl shutdown still works", async (t) => {
  const g = await startedGuest("tests/apps/xs-interleave.ts", { xenstoreLatencyNs: 200_000n });
  g.xenstore.watch("/local/domain/1/data/small", "t", () => {
    if (g.xenstore.exists("/local/domain/1/data/small")) g.dom0.after(100n * MS, () => g.xenstore.write("/local/domain/1/control/shutdown", "poweroff"));
  });
  const res = await g.run();
  noTrap(t, res);
  t.match(res.console, /xs-interleave: big write ok, timer's write ok\n/, "both writes succeeded");
  t.match(res.console, /xs-interleave: read back intact, small from the timer\n/, "both values stored as written");
  t.match(res.console, /xs-interleave: connection ok\n/, "the connection is healthy");
  t.notOk(g.xenstore.isBroken(1), "xenstored never dropped the connection");
  t.equal(res.reason, "poweroff", "xl shutdown reached the guest");
});

test("xenstore: a xenstored that stops answering: the request times out, the connection is reported dead, later requests fail at once", async (t) => {
  const g = await startedGuest("tests/apps/xs-dead.ts");
  g.dom0.onEvent(g.storePort, () => {}); // nobody serves the ring any more
  const res = await g.run();
  noTrap(t, res);
  const lines = res.console.split("\n").filter((l) => l.startsWith("xs-dead: "));
  t.match(lines[0] ?? "", /^xs-dead: first read ETIMEDOUT after 3\d{4} ms; connection dead: /, `the first read times out and the connection is dead: ${lines[0]}`);
  t.match(lines[1] ?? "", /^xs-dead: second read EIO after 0 ms; connection dead: /, `the second fails at once: ${lines[1]}`);
});

test("xenbus: a watch event that arrives while the wait reads the watched state is not lost (shutdown with a vif takes no 5 s)", async (t) => {
  // netback follows the frontend's Closing only after 10 s; meanwhile the
  // test changes the backend's state itself, right after xenstored has
  // answered the guest's read of that state with the old value: the reply
  // and the watch event reach the guest together, as under real Xen when
  // xenstored and netback run before the guest is scheduled again.
  const r = await rig([{ reactionDelayNs: 10_000_000_000 }]);
  const vif = r.vifs[0];
  let changedDuringRead = false;
  r.g.xenstore.onRequest = (domid, type, args) => {
    const closing = r.g.xenstore.read(`${vif.frontendPath}/state`) === String(XB.XenbusStateClosing);
    if (domid === 1 && type === XS.XS_READ && args[0] === `${vif.backendPath}/state` && closing && !changedDuringRead) {
      changedDuringRead = true;
      r.g.xenstore.write(`${vif.backendPath}/state`, String(XB.XenbusStateClosing));
    }
  };
  // And it follows the frontend's Closed at once (netfront waits for that too, as Linux's does).
  r.g.xenstore.watch(`${vif.frontendPath}/state`, "test", () => {
    if (r.g.xenstore.exists(`${vif.frontendPath}/state`) && r.g.xenstore.read(`${vif.frontendPath}/state`) === String(XB.XenbusStateClosed)) {
      r.g.xenstore.write(`${vif.backendPath}/state`, String(XB.XenbusStateClosed));
    }
  });
  let requested = 0n;
  whenConnected(r, () => {
    requested = r.g.clock.now();
    requestShutdown(r.g);
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.ok(changedDuringRead, "the backend's state changed while the guest's read of it was answered");
  t.equal(res.reason, "poweroff");
  const ms = Number(r.g.clock.now() - requested) / 1e6;
  // (About 1 s of it: release() retrying the grants of the rings this slowed-down netback still maps.)
  t.ok(ms < 2000, `powered off ${ms.toFixed(1)} ms (virtual) after the request, not after the 5 s timeout`);
  t.equal(r.g.xenstore.read(`${vif.frontendPath}/state`), String(XB.XenbusStateClosed), "the frontend went Closed");
});
