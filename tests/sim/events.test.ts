// The runtime's event channels and loop (runtime/events.ts, loop.ts) in
// the sim: a port offered to dom0, events dispatched to the handler while
// the guest blocks in SCHEDOP_poll, notifications back to dom0, in both
// boot modes (the same shared_info, the same hypercalls).
import test from "tape";
import { willBuild, startedGuest } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/evt-probe.ts");

for (const mode of ["pv", "pvh"] as const) test(`events [${mode}]: dom0 binds the guest's unbound port; events reach the handler and answers reach dom0`, async (t) => {
  const g = await startedGuest("tests/apps/evt-probe.ts", { mode });
  let answers = 0;
  g.xenstore.watch("/local/domain/1/data/port", "t", () => {
    if (!g.xenstore.exists("/local/domain/1/data/port")) return;
    const port = g.dom0.bindInterdomain(1, Number(g.xenstore.read("/local/domain/1/data/port")));
    g.dom0.onEvent(port, () => answers++);
    // Three events, 100 ms of virtual time apart: the guest sleeps in between.
    for (const ms of [100, 200, 300]) g.dom0.after(ms * 1_000_000, () => g.dom0.send(port));
  });
  const r = await g.run();
  const lines = r.console.trim().split("\n");
  t.equal(lines[0], "evt: port ok");
  // The last event is sent 300 ms after dom0 bound, which happened while the
  // guest was still inside its xenstore write: just under 300 ms for it.
  t.match(lines[1], /^evt: 3 events received after (29\d|30\d) ms$/, lines[1]);
  t.equal(lines[2], "evt: close 0");
  // Xen marks a freshly bound port pending on the binding side, so dom0's
  // handler runs once for the bind, then once per answer.
  t.equal(answers, 4, "dom0 got the bind event and a notification for each event");
  t.equal(r.reason, "poweroff");
});
