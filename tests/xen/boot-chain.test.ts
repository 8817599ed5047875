// Under real Xen (Xen 4.17 + Linux dom0 in QEMU, tools/rig/harness.ts): the
// boot chain's examples, started with xl create, seen through xenconsoled,
// with the shutdown reason xl reports. TSXEN_SKIP_XEN=1 skips (and reports
// the skip); otherwise a missing rig is a failure, never a pass.
import path from "node:path";
import { build } from "../../tools/build.ts";
import { runScenarios } from "../../tools/rig/harness.ts";
import { RigTest } from "./rig-test.ts";

const rig = new RigTest("tsxen-xen-boot-", async (tmp) => {
  const hello = path.join(tmp, "hello.xen");
  const trap = path.join(tmp, "trap.xen");
  await build({ entry: "examples/hello/main.ts", output: hello, log: () => {} });
  await build({ entry: "examples/trap/main.ts", output: trap, log: () => {} });
  const grow = path.join(tmp, "grow.xen");
  await build({ entry: "tests/apps/grow.ts", output: grow, log: () => {} });
  return runScenarios(
    [
      { name: "hello", image: hello, timeoutSec: 30 },
      { name: "trap-oob", image: trap, timeoutSec: 30 },
      { name: "trap-null", image: trap, xlExtra: ['extra = "null"'], timeoutSec: 30 },
      { name: "trap-hang", image: trap, xlExtra: ['extra = "hang"'], timeoutSec: 8 },
      { name: "grow", image: grow, memoryMB: 24, timeoutSec: 30 },
    ],
    { log: path.join(tmp, "serial.log") },
  );
});

rig.test("hello prints through xenconsoled and powers off", async (t) => {
  const s = await rig.scenario(t, "hello");
  t.equal(s?.reason, "poweroff");
  t.equal(s?.console[0], "Hello from tsxen!");
  t.equal(s?.console[1], "RAM: 8192 pages (32 MiB)", "start_info: 32 MiB, as in the xl config");
  t.match(s?.console[2] ?? "", /^console event channel: \d+$/);
  t.match(s?.console[3] ?? "", /^xenstore event channel: \d+$/);
});

rig.test("an out-of-bounds wasm access is reported and the domain crashes", async (t) => {
  const s = await rig.scenario(t, "trap-oob");
  t.equal(s?.reason, "crash");
  t.deepEqual(s?.console, ["trap example: about to fault (oob)", "trap: out of bounds memory access"]);
});

rig.test("a null access page-faults on the unmapped page 0 with vector, rip and address", async (t) => {
  const s = await rig.scenario(t, "trap-null");
  t.equal(s?.reason, "crash");
  t.equal(s?.console[0], "trap example: about to fault (null)");
  t.match(s?.console[1] ?? "", /^trap: page fault \(vector 14\) rip=0x[0-9a-f]{16} error=0x[0-9a-f]{16} addr=0x0{16} rsp=0x[0-9a-f]{16}$/);
});

rig.test("a hung guest is reported as a timeout, with its console kept", async (t) => {
  const s = await rig.scenario(t, "trap-hang");
  t.equal(s?.reason, "timeout");
  t.deepEqual(s?.console, ["trap example: about to fault (hang)"]);
});

rig.test("memory.grow succeeds up to the guest's RAM, returns -1 past it, and grown memory is zeroed", async (t) => {
  const s = await rig.scenario(t, "grow");
  t.equal(s?.reason, "poweroff");
  const m = /^grow: (\d+) MiB grown, memory (\d+) MiB, RAM (\d+) MiB, (\d+) pages not zeroed$/.exec(s?.console[0] ?? "");
  t.ok(m, s?.console[0]);
  if (!m) return;
  const [grown, total, ram, dirty] = m.slice(1).map(Number);
  t.equal(ram, 24, "the guest has the 24 MiB of the xl config");
  t.ok(total <= ram && total >= ram - 2, `wasm memory ends just below the top of RAM (${total} of ${ram} MiB)`);
  t.ok(grown > 0, "it grew");
  t.equal(dirty, 0, "every grown page read as zero");
});
