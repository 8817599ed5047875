// The short fuzz campaign of make test (make fuzz runs the long one): the
// same four campaigns (tests/fuzz/run.ts) at a fixed seed, each small.
// Any failure names its case and the command that replays it alone.
import test from "tape";
import { fuzzFrames } from "./frames.ts";
import { fuzzNetback, fuzzBlkback } from "./backends.ts";
import { fuzzXenstore } from "./xenstore.ts";
import { replayCommand } from "./support.ts";
import type { CampaignResult } from "./support.ts";
import { willBuild } from "../sim/helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("examples/udp-echo/main.ts");
willBuild("tests/apps/fuzz-disk.ts");
willBuild("tests/apps/xs-fuzz.ts");

const SEED = 20261201;

function check(t: test.Test, r: CampaignResult, want: number): void {
  t.equal(r.cases, want, `${r.name}: ${r.cases} of ${want} cases passed every check`);
  t.deepEqual(r.failures.map((f) => `${f.why} (${replayCommand(f)})`), [], `${r.name}: no failure`);
}

test("fuzz (short): 5000 mutated frames into a running guest", async (t) => check(t, await fuzzFrames({ seed: SEED, cases: 5000 }), 5000));
test("fuzz (short): 20 hostile netbacks attached and detached", async (t) => check(t, await fuzzNetback({ seed: SEED, cases: 20 }), 20));
test("fuzz (short): 20 hostile blkbacks attached and detached", async (t) => check(t, await fuzzBlkback({ seed: SEED, cases: 20 }), 20));
test("fuzz (short): 300 guests against a xenstored that mangles its replies", async (t) => check(t, await fuzzXenstore({ seed: SEED, cases: 300 }), 300));
