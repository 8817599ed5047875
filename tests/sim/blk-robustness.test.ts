// blkfront against a slow backend (issue 9: slow is not broken): a request
// that takes longer than the 30 s the driver used to allow completes, is
// reported as slow while it waits, and the disk stays usable. And a reused
// request whose fields do not fit its operation is never stuck.
import test from "tape";
import { SimBlkback } from "../../sim/blkback.ts";
import { willBuild, startedGuest } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/blk-edge.ts");

test("blkfront: a whole-disk discard that takes 45 s completes; it is reported slow, the disk is not broken", async (t) => {
  const g = await startedGuest("tests/apps/blk-edge.ts", { cmdline: "case=slow" });
  const size = 4 << 20;
  const back = new SimBlkback(g, { disk: new Uint8Array(size), flush: true, discard: true, slow: { first: 0, count: size / 512, latencyNs: 45e9, flush: false } });
  const res = await g.run();
  const lines = res.console.split("\n");
  t.equal(res.reason, "poweroff");
  t.deepEqual(lines.filter((l) => /FAIL|trap|panic|broken:/.test(l)), [], "no failure, the disk never broken");
  t.ok(lines.includes("blk-edge: ok the whole-disk discard completed"), "the slow discard completed");
  t.ok(lines.some((l) => /^blkfront 51712: slow backend: a discard at sector 0 has been in flight for 30 s$/.test(l)), "and was reported slow once it passed 30 s");
  t.ok(lines.includes("blk-edge: ok reads and writes after the slow requests"), "the disk still works");
  t.deepEqual(back.frontendErrors, [], "the backend saw no frontend mistake");
});

test("blkfront: one BlkRequest reused with other operations (a flush with a leftover sector range, an unknown operation) never gets stuck", async (t) => {
  const g = await startedGuest("tests/apps/blk-edge.ts", { cmdline: "case=reuse" });
  new SimBlkback(g, { disk: new Uint8Array(1 << 20), flush: true });
  const res = await g.run();
  const lines = res.console.split("\n");
  t.equal(res.reason, "poweroff");
  t.deepEqual(lines.filter((l) => /FAIL|trap|panic/.test(l)), [], "every step completed or was refused as it should");
  t.ok(lines.includes("blk-edge: 0 failures"));
});
