// What tsxen build produces for examples/hello: a PV ELF with the Xen notes,
// an xl config beside it, and a small image.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { build } from "../../tools/build.ts";
import { readXenNotes, noteString, noteNumber, checkPvImage, XEN_ELFNOTE } from "../../tools/elf-notes.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-image-test-"));

test("build: examples/hello becomes a PV image with Xen notes and an xl config", async (t) => {
  const lines: string[] = [];
  const out = path.join(tmp, "hello.xen");
  const result = await build({ entry: "examples/hello/main.ts", output: out, memoryMB: 48, log: (s) => lines.push(s) });
  const image = fs.readFileSync(out);
  const notes = readXenNotes(image);
  t.deepEqual(checkPvImage(image), [], "passes the PV image checks");
  t.equal(noteString(notes, XEN_ELFNOTE.GUEST_OS), "tsxen", "GUEST_OS");
  t.equal(noteString(notes, XEN_ELFNOTE.XEN_VERSION), "xen-3.0", "XEN_VERSION");
  t.equal(noteNumber(notes, XEN_ELFNOTE.VIRT_BASE), 0n, "VIRT_BASE 0");
  t.equal(noteNumber(notes, XEN_ELFNOTE.ENTRY), 0x100000n, "ENTRY at 1 MiB");
  t.ok(result.imageBytes < 256 * 1024, `image well under 256 KiB (${result.imageBytes} bytes)`);
  t.ok(lines.some((l) => /wrote .*hello\.xen \(\d+\.\d KiB\)/.test(l)), "prints the image size");
  t.ok(lines.some((l) => /^tsxen build: asc /.test(l)) && lines.some((l) => /^tsxen build: ld /.test(l)), "prints each step");
  const cfg = fs.readFileSync(`${out}.cfg`, "utf8");
  for (const line of ['name = "hello"', 'type = "pv"', `kernel = "${out}"`, "memory = 48", "vcpus = 1", 'on_crash = "preserve"']) {
    t.ok(cfg.split("\n").includes(line), `cfg has ${line}`);
  }
});

test("elf notes: a file that is not an ELF image is rejected", (t) => {
  t.throws(() => readXenNotes(Buffer.from("#!/bin/sh\necho not an image\n".padEnd(80))), /not an ELF file/);
  t.end();
});

test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));
