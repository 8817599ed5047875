// What tsxen build produces for examples/hello: one ELF with the Xen notes
// of a PV kernel and of a PVH kernel (the same image boots both ways), an
// xl config beside it (type = "pv", or "pvh" with --pvh), and a small image.
import test from "tape";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { build, BuildError } from "../../tools/build.ts";
import { buildOf } from "../sim/helpers.ts";
import { readXenNotes, noteString, noteNumber, checkImage, phys32Entry, XEN_ELFNOTE } from "../../tools/elf-notes.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-image-test-"));
const out = path.join(tmp, "hello.xen");
let built: Promise<Awaited<ReturnType<typeof build>>> | null = null;
const lines: string[] = [];
const hello = () => (built ??= build({ entry: "examples/hello/main.ts", output: out, memoryMB: 48, log: (s) => lines.push(s) }));

test("build: examples/hello becomes an image with the PV and PVH Xen notes and an xl config", async (t) => {
  const result = await hello();
  const image = fs.readFileSync(out);
  const notes = readXenNotes(image);
  t.deepEqual(checkImage(image), [], "passes the PV and PVH image checks");
  t.equal(noteString(notes, XEN_ELFNOTE.GUEST_OS), "tsxen", "GUEST_OS");
  t.equal(noteString(notes, XEN_ELFNOTE.XEN_VERSION), "xen-3.0", "XEN_VERSION");
  t.equal(noteNumber(notes, XEN_ELFNOTE.VIRT_BASE), 0n, "VIRT_BASE 0");
  t.equal(noteNumber(notes, XEN_ELFNOTE.ENTRY), 0x100000n, "PV ENTRY at 1 MiB");
  const pvh = phys32Entry(notes) ?? 0;
  t.ok(pvh > 0x100000 && pvh < 0x101000, `PVH PHYS32_ENTRY in the image's first page (0x${pvh.toString(16)})`);
  t.ok(result.imageBytes < 256 * 1024, `image well under 256 KiB (${result.imageBytes} bytes)`);
  t.ok(lines.some((l) => /wrote .*hello\.xen \(\d+\.\d KiB; boots as pv or pvh\)/.test(l)), "prints the image size");
  t.ok(lines.some((l) => /^tsxen build: asc /.test(l)) && lines.some((l) => /^tsxen build: ld /.test(l)), "prints each step");
  const cfg = fs.readFileSync(`${out}.cfg`, "utf8");
  for (const line of ['name = "hello"', 'type = "pv"', `kernel = "${out}"`, "memory = 48", "vcpus = 1", 'on_crash = "preserve"']) {
    t.ok(cfg.split("\n").includes(line), `cfg has ${line}`);
  }
});

test("build: readelf -n lists both entry notes (binutils names them by number: 0x1 ENTRY, 0x12 PHYS32_ENTRY)", async (t) => {
  await hello();
  const text = execFileSync("readelf", ["-n", out], { encoding: "utf8" });
  // Each note: an owner line, then its description bytes.
  const notes = [...text.matchAll(/^\s+Xen\s+0x([0-9a-f]+)\s+(.*)\n\s+description data: ([0-9a-f ]+)$/gm)].map((m) => ({ kind: m[2].trim(), bytes: m[3].trim() }));
  const pvh = phys32Entry(readXenNotes(fs.readFileSync(out))) ?? 0;
  const le = (v: number, n: number) => [...Array(n)].map((_, i) => ((v >> (8 * i)) & 0xff).toString(16).padStart(2, "0")).join(" ");
  t.ok(notes.some((n) => /\(version\)|0x00000001/.test(n.kind) && n.bytes === `${le(0x100000, 4)} 00 00 00 00`), "type 1 (XEN_ELFNOTE_ENTRY): the PV entry, 0x100000");
  t.ok(notes.some((n) => /0x00000012/.test(n.kind) && n.bytes === le(pvh, 4)), `type 0x12 (XEN_ELFNOTE_PHYS32_ENTRY): the PVH entry, 0x${pvh.toString(16)}`);
});

test("build --pvh: the same image, an xl config with type = \"pvh\"", async (t) => {
  await hello();
  const pvhOut = path.join(tmp, "hello-pvh.xen");
  // asc's output is the suite's shared compile (the prebuilt test below shows that changes nothing)
  await build({ entry: "examples/hello/main.ts", output: pvhOut, type: "pvh", prebuilt: (await buildOf("examples/hello/main.ts")).wasm, log: () => {} });
  const cfg = fs.readFileSync(`${pvhOut}.cfg`, "utf8").split("\n");
  t.ok(cfg.includes('type = "pvh"'), "type = \"pvh\"");
  t.ok(cfg.includes(`kernel = "${pvhOut}"`), "kernel = the image");
  t.ok(fs.readFileSync(pvhOut).equals(fs.readFileSync(out)), "byte for byte the image a PV build writes");
  try {
    await build({ entry: "examples/hello/main.ts", output: path.join(tmp, "bad.xen"), type: "hvm" as "pv", log: () => {} });
    t.fail("type hvm was accepted");
  } catch (e) {
    t.ok(e instanceof BuildError && /type must be "pv" or "pvh"/.test(e.message), "any other type is refused");
  }
});

test("build with a prebuilt module (the test suite's shared compile): the same image, byte for byte", async (t) => {
  await hello();
  const { wasm } = await buildOf("examples/hello/main.ts");
  const out2 = path.join(tmp, "hello-prebuilt.xen");
  const again: string[] = [];
  const result = await build({ entry: "examples/hello/main.ts", output: out2, prebuilt: wasm, log: (s) => again.push(s) });
  t.ok(fs.readFileSync(out2).equals(fs.readFileSync(out)), "identical to the image asc compiled for itself");
  // the same C as the first build: every object comes from gcc's object cache (tools/object-cache.ts)
  const gccLine = again.find((l) => l.startsWith("tsxen build: gcc "));
  const m = /, (\d+) of (\d+) objects from the cache\)$/.exec(gccLine ?? "");
  t.ok(m && m[1] === m[2], `every object from the cache (${gccLine})`);
  t.ok(result.objectsFromCache >= Number(m?.[2]), "and BuildResult counts them (the symbol table's too)");
});

test("elf notes: a file that is not an ELF image is rejected", (t) => {
  t.throws(() => readXenNotes(Buffer.from("#!/bin/sh\necho not an image\n".padEnd(80))), /not an ELF file/);
  t.end();
});

test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));
