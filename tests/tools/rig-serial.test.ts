// The rig harness's side of the serial line (tools/rig/harness.ts), with a
// stand-in for QEMU that prints what dom0's /init would: every line arrives
// even when this process's main thread is busy while they are written, and
// a scenario whose lines dom0 counted but which did not all arrive, or
// whose result line never came, is reported as such, not as a guest fault.
// And startRig's spool: scenarios added while the rig runs reach dom0 in
// order, complete, and the run ends once the last one has run.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runScenarios, startRig, type RigPaths } from "../../tools/rig/harness.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-rig-serial-"));
test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Puts `script` first in PATH as qemu-system-x86_64 (from directory `dir`),
// with a dummy image and rig; the caller restores PATH to savedPath.
function standIn(dir: string, script: string): { image: string; rig: RigPaths; savedPath: string | undefined } {
  const bin = path.join(tmp, dir);
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, "qemu-system-x86_64"), script, { mode: 0o755 });
  const image = path.join(tmp, "app.xen");
  const base = path.join(tmp, "base.cpio.gz");
  fs.writeFileSync(image, "image");
  fs.writeFileSync(base, "");
  const savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${savedPath}`;
  return { image, rig: { dir: tmp, xen: "xen", vmlinux: "vmlinux", baseInitrd: base }, savedPath };
}

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
  const { image, rig, savedPath } = standIn("bin", fakeQemu);
  try {
    const running = runScenarios(["many", "gappy", "silent"].map((name) => ({ name, image })), { rig });
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

// What dom0's run_spool does (tools/rig/dom0/init.sh), with the spool from
// QEMU's -virtfs argument: takes NNN-name/ in order once renamed into place,
// reports its files and guest.cfg's kernel line, stops at end's count.
const spoolQemu = `#!/bin/bash
[ "$1" = --version ] && { echo "QEMU stand-in"; exit 0; }
spool=$(printf '%s\\n' "$@" | sed -n 's/^local,path=\\(.*\\),mount_tag=spool,.*/\\1/p')
echo "MARK toolstack-up uptime_ms=10"
n=1
while :; do
  set -- "$spool"/$(printf %03d $n)-*
  if [ -d "$1" ]; then
    name=\${1##*/}; name=\${name#*-}
    echo "TSXEN-RIG $name created domid=$n"
    echo "TSXEN-CONSOLE $name| files: $(cd "$1" && ls -F | tr '\\n' ' ')"
    echo "TSXEN-CONSOLE $name| $(grep ^kernel "$1/guest.cfg")"
    echo "TSXEN-RIG $name result reason=poweroff check=none check_running=none check_stopped=none elapsed_ms=1 console_lines=2 check_lines=0"
    n=$((n + 1))
  elif [ -f "$spool/end" ] && [ "$n" -gt "$(cat "$spool/end")" ]; then
    break
  else
    sleep 0.05
  fi
done
echo "TSXEN-RIG all-done"
`;

test("rig harness: startRig runs scenarios handed over while it runs, in order, and ends after close()", async (t) => {
  const { image, rig: paths, savedPath } = standIn("spool-bin", spoolQemu);
  try {
    const rig = await startRig({ rig: paths });
    await rig.add([{ name: "first", image, check: "exit 0\n" }]);
    await new Promise((r) => setTimeout(r, 300));
    await rig.add([{ name: "second", image }, { name: "third", image, setup: "true\n" }]);
    const refused = async (p: Promise<void>): Promise<string> => p.then(() => "accepted", (e: Error) => e.message);
    t.equal(await refused(rig.add([{ name: "first", image }])), "duplicate scenario name first", "a name already added is refused");
    await rig.close();
    t.equal(await refused(rig.add([{ name: "late", image }])), "startRig: add() after close()", "nothing is added after close()");
    const r = await rig.result;
    t.equal(r.outcome, "done", "the run ended with dom0's all-done, after the last scenario");
    t.deepEqual(r.results.map((x) => [x.name, x.reported, x.domid]), [["first", true, 1], ["second", true, 2], ["third", true, 3]], "each ran, in the order added");
    t.deepEqual(r.results.map((x) => x.console[0]), [
      "files: app.xen check.sh* guest.cfg timeout ",
      "files: app.xen guest.cfg timeout ",
      "files: app.xen guest.cfg setup.sh* timeout ",
    ], "each scenario dir complete, scripts executable");
    t.equal(r.results[2].console[1], 'kernel = "/scenarios/003-third/app.xen"', "guest.cfg names the image where dom0 copies the dir");
  } finally {
    process.env.PATH = savedPath;
  }
});
