// tsxen run on a host that cannot build the rig: without apt (not Debian),
// rig.sh says why in one line, and tsxen run exits 5 (host failure) without
// starting QEMU. PATH holds only the few programs rig.sh needs before it
// looks for apt-get.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { runImage } from "../../tools/run.ts";
import { prepareRig } from "../../tools/rig/harness.ts";
import { EXIT } from "../../tools/outcome.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-rig-errors-"));
test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));
const bin = path.join(tmp, "bin");
fs.mkdirSync(bin);
for (const tool of ["bash", "dirname", "realpath", "mkdir", "id", "cat"]) {
  const found = spawnSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
  fs.symlinkSync(found, path.join(bin, tool));
}
const env = { ...process.env, PATH: bin, TSXEN_RIG_DIR: path.join(tmp, "rig") };

test("rig: without apt-get, rig.sh prepare says it needs Debian 12 and fails", (t) => {
  const r = spawnSync(path.join(bin, "bash"), ["tools/rig/rig.sh", "prepare"], { env, encoding: "utf8" });
  t.equal(r.status, 1, "exit 1");
  t.match(r.stderr, /rig: error: apt-get not found: tsxen run builds its Xen rig from Debian 12 packages/, r.stderr.trim().split("\n").pop());
  t.end();
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

test("run: a rig that cannot be prepared is exit 5, with rig.sh's reason", async (t) => {
  const image = path.join(tmp, "app.xen");
  fs.writeFileSync(image, "not booted");
  const saved = { path: process.env.PATH, dir: process.env.TSXEN_RIG_DIR, write: process.stderr.write };
  const err: string[] = [];
  process.env.PATH = bin;
  process.env.TSXEN_RIG_DIR = env.TSXEN_RIG_DIR;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await runImage({ image });
    t.equal(code, EXIT.host, "exit 5");
  } finally {
    // Assigning undefined would set the string "undefined": every later
    // real-Xen test of the run would then prepare a new rig in ./undefined.
    restoreEnv("PATH", saved.path);
    restoreEnv("TSXEN_RIG_DIR", saved.dir);
    process.stderr.write = saved.write;
  }
  t.match(err.join(""), /apt-get not found/, "the reason is shown");
  t.match(err.join(""), /tsxen run: rig\.sh prepare failed/, "and that the rig could not be prepared");
});

test("rig: callers of prepareRig at the same time share one rig.sh run; one that failed runs again", async (t) => {
  const saved = { path: process.env.PATH, write: process.stderr.write };
  const err: string[] = [];
  process.env.PATH = bin;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const dir = path.join(tmp, "shared-rig");
    const first = prepareRig({ dir });
    t.equal(prepareRig({ dir }), first, "a second caller gets the same run");
    const withLibvirt = prepareRig({ dir, libvirt: true });
    t.notEqual(withLibvirt, first, "libvirt's tree is a run of its own (after the first)");
    const results = await Promise.allSettled([first, withLibvirt]);
    t.deepEqual(results.map((r) => r.status), ["rejected", "rejected"], "both fail here (no apt-get)");
    t.equal(err.join("").match(/apt-get not found/g)?.length, 2, "rig.sh ran once for each");
    const again = prepareRig({ dir });
    t.notEqual(again, first, "after the failure a caller starts a new run");
    await again.catch(() => undefined);
  } finally {
    restoreEnv("PATH", saved.path);
    process.stderr.write = saved.write;
  }
});
