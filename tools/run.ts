// tsxen run: boots one image under real Xen (Xen 4.17 + Debian Linux dom0 in
// QEMU, from the rig in tools/rig/) as a PV or a PVH guest, and shows its
// console live.
//
// Devices: the image's xl config (<image>.cfg) is honoured for type=, vif=,
// disk=, memory= and extra=; --pvh, --vif, --disk, --memory and --extra
// replace what it says. Vifs go on the rig's bridge (dom0 is 10.0.0.1 there). A disk is a
// host file QEMU gives dom0 as a virtio disk, which dom0 hands to the guest
// (so what the guest writes is in the file afterwards). --forward makes
// QEMU's user network (10.0.0.254 on the same bridge) relay a host port to
// the first vif's address.
//
// For CI: --expect REGEX (the guest is shut down once a console line
// matches), --json, and the exit codes of outcome.ts. Ctrl-C (or SIGTERM)
// asks the guest to shut down (xl shutdown); a second one destroys it.
import fs from "node:fs";
import path from "node:path";
import { runScenarios, prepareRig, RigControl, type RunResult, type ShutdownReason } from "./rig/harness.ts";
import { diskFromXl, parseXlConfig, sizeXlLines, vifFromXl, xlDiskLine, xlVifLine, DeviceError, type DiskSpec, type ForwardSpec, type VifSpec } from "./devices.ts";
import { exitCodeFor, type GuestReason, type RunSummary } from "./outcome.ts";

export interface RunOptions {
  image: string;
  memoryMB?: number;
  extra?: string;       // the guest's command line (xl extra=)
  timeoutSec?: number;  // 0: none (the default with --forward); otherwise 60
  vifs?: VifSpec[];     // each replaces the cfg's vif= line when given
  disks?: DiskSpec[];
  forwards?: ForwardSpec[];
  expect?: string;
  json?: boolean;
  pvh?: boolean;        // boot as type = "pvh" (default: the cfg's type, else "pv")
}

const NO_TIMEOUT_SEC = 7 * 24 * 3600;   // the rig wants a number
const GRACE_SEC = 20;                   // after an --expect match, for the guest to power off

// What the image's xl config says (absent keys stay undefined).
export interface ConfigDefaults {
  type?: "pv" | "pvh";
  memoryMB?: number;
  extra?: string;
  vifs: VifSpec[];
  disks: DiskSpec[];
}

export function readConfig(cfgPath: string): ConfigDefaults {
  const out: ConfigDefaults = { vifs: [], disks: [] };
  if (!fs.existsSync(cfgPath)) return out;
  const file = path.basename(cfgPath);
  const cfg = parseXlConfig(fs.readFileSync(cfgPath, "utf8"), file);
  const list = (key: string): string[] => {
    const v = cfg.get(key);
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new DeviceError(`${file}: ${key} must be a list [ '…', … ]`);
    return v;
  };
  const type = cfg.get("type");
  if (type !== undefined && type !== "pv" && type !== "pvh") throw new DeviceError(`${file}: type must be "pv" or "pvh" (a tsxen image boots either way)`);
  if (type !== undefined) out.type = type;
  const memory = cfg.get("memory");
  if (typeof memory === "number") out.memoryMB = memory;
  const extra = cfg.get("extra");
  if (typeof extra === "string") out.extra = extra;
  out.vifs = list("vif").map((spec, i) => vifFromXl(spec, i, file));
  out.disks = list("disk").map((spec, i) => diskFromXl(spec, i, file));
  return out;
}

function reasonOf(run: RunResult | null, r: ShutdownReason | undefined): GuestReason {
  if (!run || run.outcome !== "done" || r === undefined || r === "not-run" || r === "unknown") return "host-failure";
  return r;
}

export async function runImage(opts: RunOptions): Promise<number> {
  const t0 = Date.now();
  const json = opts.json ?? false;
  const consoleOut = json ? process.stderr : process.stdout;
  const say = (s: string): void => void process.stderr.write(`tsxen run: ${s}\n`);
  const seconds = (): string => ((Date.now() - t0) / 1000).toFixed(1);
  const lines: string[] = [];
  let expectLine: string | null = null;
  const serialLog = `${path.resolve(opts.image)}.serial.log`;
  const timings: Record<string, number> = {};

  const finish = (reason: GuestReason, error?: string): number => {
    const expect = opts.expect === undefined ? null : { pattern: opts.expect, matched: expectLine !== null, line: expectLine };
    const exitCode = exitCodeFor(reason, expect);
    if (json) {
      const summary: RunSummary = {
        command: "run", target: opts.image, reason, exitCode, expect, console: lines,
        timings: { ...timings, totalMs: Date.now() - t0 }, serialLog, ...(error ? { error } : {}),
      };
      process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
    }
    return exitCode;
  };

  if (!fs.existsSync(opts.image)) throw new DeviceError(`${opts.image}: no such file (build it with tsxen build)`);
  const cfg = readConfig(`${opts.image}.cfg`);
  const vifs = opts.vifs?.length ? opts.vifs : cfg.vifs;
  const disks = opts.disks?.length ? opts.disks : cfg.disks;
  const forwards = opts.forwards ?? [];
  if (forwards.length && !vifs.length) throw new DeviceError("--forward needs a vif (add --vif, or a vif= line in the image's .cfg)");
  for (const d of disks) {
    if (!fs.existsSync(d.path)) throw new DeviceError(`disk ${d.path}: no such file (create one, e.g. truncate -s 64M ${path.basename(d.path)})`);
    if (fs.statSync(d.path).size < 512) throw new DeviceError(`disk ${d.path}: smaller than one 512-byte sector`);
  }
  const type = opts.pvh ? "pvh" : cfg.type ?? "pv";
  const memoryMB = opts.memoryMB ?? cfg.memoryMB;
  const extra = opts.extra ?? cfg.extra;
  const timeoutSec = opts.timeoutSec ?? (forwards.length ? 0 : 60);
  const name = path.basename(opts.image).replace(/\.[^.]*$/, "").toLowerCase().replace(/[^a-z0-9-]/g, "-");

  let rig;
  try {
    rig = await prepareRig();
  } catch (e) {
    say((e as Error).message);
    return finish("host-failure", (e as Error).message);
  }
  timings.prepareMs = Date.now() - t0;
  say(`booting Xen 4.17 + Linux dom0 in QEMU (software emulation, ~10 s), then ${name} (type = "${type}")`);
  for (const d of disks) say(`disk ${d.vdev}: ${d.path}${d.readOnly ? " (read-only)" : ""}`);
  for (const f of forwards) say(`forwarding 127.0.0.1 ${f.proto.toUpperCase()} port ${f.hostPort} to the guest's ${vifs[0].ip}:${f.guestPort}`);

  const control = new RigControl();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts === 1) {
      say("asking the guest to shut down (again to destroy it)");
      control.shutdownGuest();
    } else if (interrupts === 2) {
      say("destroying the guest (again to stop QEMU at once)");
      control.destroyGuest();
    } else {
      process.exit(130);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const expect = opts.expect === undefined ? null : new RegExp(opts.expect);
  let run: RunResult | null = null;
  try {
    run = await runScenarios(
      [{
        name,
        image: path.resolve(opts.image),
        type,
        memoryMB,
        xlExtra: [
          ...sizeXlLines(type, memoryMB ?? 32),
          ...(extra ? [`extra = "${extra.replace(/["\\]/g, "")}"`] : []),
          xlVifLine(vifs),
          xlDiskLine(disks, (_d, i) => `/dev/tsxen-disk${i}`),
        ].filter((l): l is string => l !== null),
        timeoutSec: timeoutSec > 0 ? timeoutSec : NO_TIMEOUT_SEC,
      }],
      {
        rig,
        log: serialLog,
        control,
        forwards: forwards.map((f) => ({ proto: f.proto, hostPort: f.hostPort, guestIp: vifs[0].ip, guestPort: f.guestPort })),
        disks: disks.map((d) => ({ path: d.path, readOnly: d.readOnly })),
        totalTimeoutSec: timeoutSec > 0 ? undefined : NO_TIMEOUT_SEC,
        onLine: (line) => {
          const mark = /^MARK (\S+)/.exec(line);
          if (mark) say(`[${seconds()} s] dom0: ${mark[1]}`);
          const created = /^TSXEN-RIG \S+ created/.test(line);
          if (created) timings.guestCreatedMs = Date.now() - t0;
        },
        onConsole: (_scenario, line) => {
          consoleOut.write(line + "\n");
          lines.push(line);
          if (expect && expectLine === null && expect.test(line)) {
            expectLine = line;
            say(`saw the expected line; shutting the guest down`);
            control.shutdownGuest();
            setTimeout(() => control.destroyGuest(), GRACE_SEC * 1000).unref();
          }
        },
      },
    );
  } catch (e) {
    say((e as Error).message);
    return finish("host-failure", (e as Error).message);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  const result = run.results[0];
  if (run.bootMs !== null) timings.bootMs = run.bootMs;
  if (result) timings.guestMs = result.elapsedMs;
  const reason = reasonOf(run, result?.reason);
  if (reason === "host-failure") {
    const why = run.outcome !== "done" ? `the rig failed (${run.outcome}${run.failure ? `: ${run.failure}` : ""})` : `the guest did not run${result?.error ? `: ${result.error}` : ""}`;
    say(`${why}; serial log: ${serialLog}`);
    return finish(reason, why);
  }
  say(`serial log (Xen, dom0 and guest) in ${serialLog}`);
  say(`[${seconds()} s] ${name} ${reason === "timeout" ? `still ran after ${timeoutSec} s: stopped` : reason === "destroyed" ? "destroyed" : `shut down: ${reason}`}${result.error ? ` (${result.error})` : ""}`);
  if (opts.expect !== undefined && expectLine === null) say(`no console line matched /${opts.expect}/`);
  return finish(reason);
}
