// The rig harness's side of the serial line (tools/rig/harness.ts), with a
// stand-in for QEMU that prints what dom0's /init would: every line arrives
// even when this process's main thread is busy while they are written, and
// a scenario whose lines dom0 counted but which did not all arrive, or
// whose result line never came, is reported as such, not as a guest fault.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runScenarios } from "../../tools/rig/harness.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-rig-serial-"));
test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));

const MANY = 50000;
const fakeQemu = `#!/bin/bash
[ "$1" = --version ] && { echo "QEMU stand-in"; exit 0; }
echo "MARK toolstack-up uptime_ms=10"
echo "TSXEN-RIG many created domid=1"
awk 'BEGIN { for (i = 1; i <= ${MANY}; i++) print "TSXEN-CONSOLE many| line " i }'
echo "TSXEN-CONSOLE many| µs ± ✓"
echo "TSXEN-CHECK many| checked"
echo "TSXEN-RIG many result reason=poweroff check=0 check_running=0 check_stopped=0 elapsed_ms=7 console_lines=$((${MANY} + 1)) check_lines=1"
echo "TSXEN-RIG gappy created domid=2"
echo "TSXEN-CONSOLE gappy| first"
echo "TSXEN-CON(XEN) d2v0 garbledSOLE gappy| second"
echo "TSXEN-RIG gappy result reason=poweroff check=none check_running=none check_stopped=none elapsed_ms=3 console_lines=3 check_lines=0"
echo "TSXEN-RIG silent created domid=3"
echo "TSXEN-RIG all-done"
`;

test("rig harness: all of a burst arrives while the main thread is busy; lost and missing report lines are named", async (t) => {
  const bin = path.join(tmp, "bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, "qemu-system-x86_64"), fakeQemu, { mode: 0o755 });
  const image = path.join(tmp, "app.xen");
  const base = path.join(tmp, "base.cpio.gz");
  fs.writeFileSync(image, "image");
  fs.writeFileSync(base, "");
  const savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${savedPath}`;
  try {
    const running = runScenarios(
      ["many", "gappy", "silent"].map((name) => ({ name, image })),
      { rig: { dir: tmp, xen: "xen", vmlinux: "vmlinux", baseInitrd: base } },
    );
    // keep the main thread from reading for a while the stand-in writes
    const until = Date.now() + 1500;
    while (Date.now() < until);
    const r = await running;
    t.equal(r.outcome, "done", "the run ended with dom0's all-done");
    const [many, gappy, silent] = r.results;
    t.equal(many.console.length, MANY + 1, `all ${MANY + 1} console lines arrived`);
    t.equal(many.console[MANY - 1], `line ${MANY}`, "in order");
    t.equal(many.console[MANY], "µs ± ✓", "UTF-8 intact, wherever the reads split it");
    t.deepEqual([many.reported, many.lostLines, many.error], [true, 0, undefined], "nothing lost, no error");
    t.deepEqual([gappy.reported, gappy.lostLines], [true, 2], "two lines dom0 sent did not arrive intact");
    t.equal(gappy.error, "2 of its 3 console and check lines were lost on the serial line", "said so");
    t.equal(silent.reported, false, "no result line: not reported");
    t.equal(silent.reason, "not-run", "and not taken for a shutdown");
  } finally {
    process.env.PATH = savedPath;
  }
});
