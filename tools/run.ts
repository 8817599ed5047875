// tsxen run: boots one image under real Xen (Xen 4.17 + Debian Linux dom0 in
// QEMU, from the rig in tools/rig/) and shows its console live.
import fs from "node:fs";
import path from "node:path";
import { runScenarios, prepareRig } from "./rig/harness.ts";

export interface RunOptions {
  image: string;
  memoryMB?: number;
  extra?: string;       // the guest's command line (xl extra=)
  timeoutSec?: number;
}

export async function runImage(opts: RunOptions): Promise<number> {
  if (!fs.existsSync(opts.image)) throw new Error(`${opts.image}: no such file`);
  const name = path.basename(opts.image).replace(/\.[^.]*$/, "").toLowerCase().replace(/[^a-z0-9-]/g, "-");
  const rig = await prepareRig();
  const serialLog = `${path.resolve(opts.image)}.serial.log`;
  const t0 = Date.now();
  const seconds = () => ((Date.now() - t0) / 1000).toFixed(1);
  console.error(`tsxen run: booting Xen 4.17 + Linux dom0 in QEMU (software emulation, ~10 s), then ${name}`);
  const run = await runScenarios(
    [{
      name,
      image: path.resolve(opts.image),
      memoryMB: opts.memoryMB,
      xlExtra: opts.extra ? [`extra = "${opts.extra.replace(/["\\]/g, "")}"`] : [],
      timeoutSec: opts.timeoutSec ?? 60,
    }],
    {
      rig,
      log: serialLog,
      onLine: (line) => {
        const mark = /^MARK (\S+)/.exec(line);
        if (mark) console.error(`tsxen run: [${seconds()} s] dom0: ${mark[1]}`);
      },
      onConsole: (_scenario, line) => console.log(line),
    },
  );
  const result = run.results[0];
  if (run.outcome !== "done" || !result) {
    console.error(`tsxen run: the rig failed (${run.outcome}${run.failure ? `: ${run.failure}` : ""}); serial log: ${serialLog}`);
    return 1;
  }
  console.error(`tsxen run: serial log (Xen, dom0 and guest) in ${serialLog}`);
  console.error(`tsxen run: [${seconds()} s] ${name} shut down: ${result.reason}${result.error ? ` (${result.error})` : ""}`);
  return result.reason === "poweroff" ? 0 : 1;
}
