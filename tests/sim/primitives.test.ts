// The keyed hash (SipHash-2-4), the ChaCha20 generator behind random*() and
// the fast Internet checksum, against reference vectors, in the sim; and
// which source seeds the generator with and without RDRAND.
import test from "tape";
import { runInSim } from "../../sim/host.ts";
import { guestModule, willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/primitives.ts");

const APP = "tests/apps/primitives.ts";

test("primitives: SipHash-2-4 and ChaCha20 vectors, sumFast == sum16, copyAndSum and split sums, random bits; seeded from RDRAND", async (t) => {
  const app = await guestModule(APP);
  const res = await runInSim(app.wasm, { cmdline: app.cmdline });
  const lines = res.console.split("\n").filter((l) => l.startsWith("primitives: "));
  const checks = lines.filter((l) => / ok$| FAILED /.test(l));
  t.equal(checks.length, 8, "every check reported");
  t.deepEqual(checks.filter((l) => !l.endsWith(" ok")), [], "every check passed");
  t.ok(lines.includes("primitives: random source rdrand"), "the CPU's RDRAND seeds the generator");
  t.equal(res.reason, "poweroff");
});

test("primitives: without RDRAND the generator is seeded from timing jitter, and says so", async (t) => {
  const app = await guestModule(APP);
  const res = await runInSim(app.wasm, { rdrand: false, cmdline: app.cmdline });
  t.ok(res.console.includes("primitives: random source jitter"), "source: jitter");
  t.notOk(res.console.includes("FAILED"), "the checks pass with that seed too");
});
