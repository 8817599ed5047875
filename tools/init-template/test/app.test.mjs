// The app's test: builds it, runs the image's wasm in the simulated Xen
// host and then the image under real Xen (Xen 4.17 + Linux dom0 in QEMU), each time with a vif and
// a disk, sends it a datagram through a forwarded host port and checks the
// reply. The same disk file goes from the sim to Xen, so the second run
// must find the first run's note. `npm test`; TSXEN_SKIP_XEN=1 skips the
// Xen half (its first run downloads ~72 MB of Debian packages).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import dgram from "node:dgram";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tsxen = path.join(root, "node_modules", ".bin", "tsxen");
const image = path.join(root, "build", "app.xen");
const disk = path.join(root, "build", "test-disk.img");
const skipXen = process.env.TSXEN_SKIP_XEN === "1";

// A free UDP port on 127.0.0.1 for the forward.
async function freePort() {
  const s = dgram.createSocket("udp4");
  await new Promise((resolve) => s.bind(0, "127.0.0.1", resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

// Runs `tsxen <args>` with --json; once the app says it is ready, sends
// `text` to the forwarded port. Resolves with the reply and the summary.
function talk(args, port, text, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(tsxen, [...args, "--json"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "", reply = null, sent = false;
    const socket = dgram.createSocket("udp4");
    socket.on("message", (m) => (reply = m.toString()));
    const timer = setTimeout(() => child.kill("SIGINT"), timeoutMs);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => {
      stderr += d;
      if (!sent && /ready on UDP port/.test(stderr)) {
        sent = true;
        socket.send(text, port, "127.0.0.1");
      }
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      socket.close();
      try {
        resolve({ code, reply, summary: JSON.parse(stdout), stderr });
      } catch {
        reject(new Error(`no JSON summary (exit ${code}):\n${stderr}`));
      }
    });
  });
}

test("build", () => {
  execFileSync(tsxen, ["build", "src/main.ts", "-o", image], { cwd: root, stdio: "inherit" });
  fs.rmSync(disk, { force: true });
  fs.writeFileSync(disk, Buffer.alloc(1 << 20));   // a fresh 1 MiB disk
});

test("sim: stores a note and answers", async () => {
  const port = await freePort();
  const r = await talk(["sim", image, "--vif", "--disk", disk, "--forward", `${port}:5000/udp`, "--expect", "stored #1 "], port, "hello", 120_000);
  assert.equal(r.reply, "#1 hello", r.stderr);
  assert.equal(r.summary.reason, "poweroff");
  assert.equal(r.code, 0);
  assert.ok(fs.readFileSync(disk).includes("hello"), "the note is in the disk file");
});

test("xen: finds the sim's note on the disk and stores a second", { skip: skipXen && "TSXEN_SKIP_XEN=1" }, async () => {
  const port = await freePort();
  const r = await talk(["run", image, "--vif", "--disk", disk, "--forward", `${port}:5000/udp`, "--expect", "stored #2 ", "--timeout", "300"], port, "world", 900_000);
  assert.equal(r.reply, "#2 world", r.stderr);
  assert.ok(r.summary.console.includes("notes: 1 notes on disk; ready on UDP port 5000"), "the sim's note was on the disk");
  assert.equal(r.summary.reason, "poweroff");
  assert.equal(r.code, 0);
  assert.ok(fs.readFileSync(disk).includes("world"), "the second note is in the disk file");
});
