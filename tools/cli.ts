// The tsxen command line: build, sim, run, init, help. Parsed with Node's
// util.parseArgs, one option table per command, which also writes the help.
import fs from "node:fs";
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { build, BuildError, REPO, RUNTIMES, DEFAULT_RUNTIME, type Runtime } from "./build.ts";
import { MissingToolError } from "./toolchain.ts";
import { WasmCheckError } from "./wasm-check.ts";
import { checkDevices, DeviceError, parseDisk, parseForward, parseVif } from "./devices.ts";
import { EXIT } from "./outcome.ts";
import { InitError } from "./init.ts";

interface Option {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  arg?: string;         // the value's name in the help
  help: string;
}

interface Command {
  args: string;         // positional arguments, for the usage line
  summary: string;
  details?: string;
  options: Record<string, Option>;
}

const DEVICE_OPTIONS: Record<string, Option> = {
  vif: { type: "string", multiple: true, arg: "[ip=…,mac=…,mtu=…]", help: "a network interface (repeatable); vif n defaults to ip=10.0.0.(2+n), mac=00:16:3e:…" },
  disk: { type: "string", multiple: true, arg: "FILE[:ro]", help: "a disk backed by FILE (repeatable): xvda, xvdb, …; the guest's writes land in FILE" },
};
const HOST_OPTIONS: Record<string, Option> = {
  forward: { type: "string", multiple: true, arg: "HOSTPORT:GUESTPORT[/udp]", help: "relay 127.0.0.1:HOSTPORT (TCP, or UDP with /udp) to the first vif's GUESTPORT (repeatable)" },
  memory: { type: "string", arg: "MiB", help: "guest RAM (default 32)" },
  extra: { type: "string", arg: "CMDLINE", help: "the guest's command line (startInfo().cmdLine, xl extra=)" },
  expect: { type: "string", arg: "REGEX", help: "wait for a console line matching REGEX, then power the guest off; fails if it never comes" },
  timeout: { type: "string", arg: "SECONDS", help: "stop the guest after SECONDS (0: never)" },
  json: { type: "boolean", help: "print one JSON object (reason, exitCode, console, timings) on stdout; the console goes to stderr" },
};
const HELP: Record<string, Option> = { help: { type: "boolean", short: "h", help: "show this help" } };

const RUNTIME_OPTION: Record<string, Option> = {
  runtime: { type: "string", arg: "NAME", help: `AssemblyScript's runtime: ${RUNTIMES.join(", ")} (default ${DEFAULT_RUNTIME}; stub never frees memory)` },
};

const EXIT_CODES = `exit codes: 0 powered off (and --expect seen), 1 crashed, 2 usage or build error,
  3 timeout (or stopped), 4 rebooted, 5 host failure (QEMU/Xen/dom0, a port in use), 6 shut down without the --expect line`;

const COMMANDS: Record<string, Command> = {
  build: {
    args: "<app.ts> -o <image>",
    summary: "AssemblyScript app -> x86-64 Xen image that boots as PV or PVH, plus <image>.cfg (xl config)",
    details: "The devices go into <image>.cfg (and <image>.xml with --libvirt); `tsxen run <image>` uses them.\n" +
      "The image is the same either way; --pvh only makes the xl config say type = \"pvh\" (default \"pv\").\n" +
      "gcc's objects are reused from ~/.cache/tsxen/objects (TSXEN_CACHE_DIR=DIR: DIR/objects; TSXEN_CACHE_DIR=off: no cache).",
    options: {
      output: { type: "string", short: "o", arg: "IMAGE", help: "the image to write (required)" },
      memory: { type: "string", arg: "MiB", help: "xl memory= (default 32)" },
      name: { type: "string", arg: "NAME", help: "xl domain name (default: the image's base name)" },
      extra: { type: "string", arg: "CMDLINE", help: "xl extra=: the guest's command line" },
      ...DEVICE_OPTIONS,
      bridge: { type: "string", arg: "BRIDGE", help: "the bridge the vifs join (xl's default, xenbr0 in the libvirt domain)" },
      libvirt: { type: "boolean", help: "also write <image>.xml, a libvirt domain (virsh -c xen:///system create <image>.xml)" },
      ...RUNTIME_OPTION,
      pvh: { type: "boolean", help: "xl type = \"pvh\" (and a PVH libvirt domain) instead of \"pv\"" },
      ...HELP,
    },
  },
  sim: {
    args: "<app.ts | module.wasm | image>",
    summary: "runs the app (or an image's wasm) in the simulated Xen host (Node), console live",
    details: "Without --forward the sim runs in virtual time (sleeps take no time); with --forward, in real time, so the\n" +
      "host can talk to the guest. Ctrl-C asks the guest to power off; a second one stops it.\n" + EXIT_CODES,
    options: {
      ...DEVICE_OPTIONS, ...HOST_OPTIONS,
      inspect: { type: "string", arg: "[=[HOST:]PORT]", help: "run under Node's inspector (Chrome DevTools, VS Code; default 127.0.0.1:9229): unoptimised, in virtual time" },
      break: { type: "boolean", help: "with --inspect: stop at the app's main()" },
      ...RUNTIME_OPTION,
      pvh: { type: "boolean", help: "boot as a PVH guest (hvm_start_info, HVM params) instead of PV" },
      ...HELP,
    },
  },
  run: {
    args: "<image>",
    summary: "boots the image under real Xen (Xen 4.17 + Linux dom0 in QEMU), console live",
    details: "Uses the type=, vif=, disk=, memory= and extra= lines of <image>.cfg; --pvh, --vif, --disk, --memory and --extra replace them.\n" +
      "Timeout: 60 s, none with --forward. Ctrl-C asks the guest to shut down; a second one destroys it.\n" + EXIT_CODES,
    options: {
      ...DEVICE_OPTIONS, ...HOST_OPTIONS,
      pvh: { type: "boolean", help: "boot as type = \"pvh\" (default: the type= of <image>.cfg, else \"pv\")" },
      ...HELP,
    },
  },
  stats: {
    args: "<domain | domid>",
    summary: "in dom0: the counters a running tsxen guest publishes in xenstore",
    options: {
      "no-request": { type: "boolean", help: "read what the guest last published, without asking it for fresh numbers" },
      timeout: { type: "string", arg: "SECONDS", help: "how long to wait for the guest's answer" },
      ...HELP,
    },
  },
  init: {
    args: "[dir]",
    summary: "creates a tsxen project: package.json, src/main.ts, tsconfig, a test, a CI workflow, a README",
    options: {
      force: { type: "boolean", help: "write into a directory that is not empty (existing files are kept)" },
      ...HELP,
    },
  },
  help: { args: "[command]", summary: "shows help for a command", options: {} },
};

export class UsageError extends Error {}

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version;
}

function usage(): string {
  const width = Math.max(...Object.entries(COMMANDS).map(([n, c]) => `${n} ${c.args}`.length));
  return [
    `tsxen ${version()}: Xen guests (PV and PVH) written in TypeScript (AssemblyScript)`,
    "",
    "usage:",
    ...Object.entries(COMMANDS).map(([n, c]) => `  tsxen ${`${n} ${c.args}`.padEnd(width)}  ${c.summary}`),
    "",
    "`tsxen help <command>` or `tsxen <command> --help` for its options; `tsxen --version`.",
  ].join("\n");
}

export function commandHelp(name: string): string {
  const c = COMMANDS[name];
  const opts = Object.entries(c.options).map(([long, o]) => [`${o.short ? `-${o.short}, ` : "    "}--${long}${o.arg ? `${o.arg.startsWith("[=") ? "" : " "}${o.arg}` : ""}`, o.help]);
  const width = Math.max(0, ...opts.map(([l]) => l.length));
  return [
    `usage: tsxen ${name} ${c.args}${opts.length ? " [options]" : ""}`,
    `  ${c.summary}`,
    ...(c.details ? ["", c.details] : []),
    ...(opts.length ? ["", "options:", ...opts.map(([l, h]) => `  ${l.padEnd(width)}  ${h}`)] : []),
  ].join("\n");
}

// util.parseArgs wants a value after --vif, but a bare --vif (all defaults)
// is the common case: a --vif not followed by key=value gets an empty one.
// (Likewise --inspect, whose value is only ever given as --inspect=…)
function normalizeBareOptions(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--vif" && !(i + 1 < argv.length && /^[a-z]+=/.test(argv[i + 1]))) out.push("--vif=");
    else if (argv[i] === "--inspect") out.push("--inspect=");
    else out.push(argv[i]);
  }
  return out;
}

function parse(name: string, argv: string[]): { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] } {
  const options: ParseArgsConfig["options"] = {};
  for (const [long, o] of Object.entries(COMMANDS[name].options)) options[long] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  try {
    return parseArgs({ args: normalizeBareOptions(argv), options, allowPositionals: true, strict: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    const message = err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? `unknown option ${/'([^']+)'/.exec(err.message)?.[1] ?? err.message}` : err.message;
    throw new UsageError(`${name}: ${message} (see tsxen ${name} --help)`);
  }
}

function positiveInt(v: unknown, flag: string, allowZero = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new UsageError(`--${flag} takes a ${allowZero ? "" : "positive "}whole number, not '${v}'`);
  return n;
}

function regex(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  try {
    new RegExp(String(v));
  } catch (e) {
    throw new UsageError(`--expect: ${(e as Error).message}`);
  }
  return String(v);
}

function devices(values: Record<string, unknown>) {
  const vifs = ((values.vif as string[] | undefined) ?? []).map((v, i) => parseVif(v, i));
  const disks = ((values.disk as string[] | undefined) ?? []).map((d, i) => parseDisk(d, i));
  const forwards = ((values.forward as string[] | undefined) ?? []).map(parseForward);
  checkDevices(vifs, disks, forwards);
  return { vifs, disks, forwards };
}

function one(name: string, positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`${name} takes ${what}${positionals.length ? `, not ${positionals.join(" ")}` : ""}\n\n${commandHelp(name)}`);
  return positionals[0];
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    console.error(usage());
    return EXIT.usage;
  }
  if (command === "--version" || command === "-V" || command === "version") {
    console.log(version());
    return 0;
  }
  if (command === "help" || command === "--help" || command === "-h") {
    const topic = rest[0];
    if (topic === undefined) console.log(usage());
    else if (COMMANDS[topic]) console.log(commandHelp(topic));
    else throw new UsageError(`no command '${topic}'\n\n${usage()}`);
    return 0;
  }
  if (!COMMANDS[command]) throw new UsageError(`unknown command '${command}'\n\n${usage()}`);
  const { values, positionals } = parse(command, rest);
  if (values.help) {
    console.log(commandHelp(command));
    return 0;
  }
  switch (command) {
    case "build": {
      const entry = one("build", positionals, "one app file");
      if (!values.output) throw new UsageError(`build needs -o <image>\n\n${commandHelp("build")}`);
      const { vifs, disks } = devices(values);
      await build({
        entry, output: values.output as string, runtime: runtimeOf(values.runtime), memoryMB: positiveInt(values.memory, "memory"), name: values.name as string | undefined,
        type: values.pvh ? "pvh" : "pv", log: (s) => console.log(s), libvirt: values.libvirt as boolean | undefined,
        devices: { vifs, disks, bridge: values.bridge as string | undefined, extra: values.extra as string | undefined },
      });
      return 0;
    }
    case "sim": {
      const input = one("sim", positionals, "one app (.ts), module (.wasm) or image (tsxen build's output)");
      if (values.break && values.inspect === undefined) throw new UsageError("--break goes with --inspect");
      const { parseInspect } = await import("./inspect.ts");
      let inspect;
      try {
        inspect = values.inspect === undefined ? undefined : { ...parseInspect(values.inspect as string), breakAtMain: values.break === true };
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const { simApp } = await import("./sim.ts");
      return simApp({
        input, ...devices(values), runtime: runtimeOf(values.runtime), memoryMB: positiveInt(values.memory, "memory"), cmdline: values.extra as string | undefined,
        expect: regex(values.expect), timeoutSec: positiveInt(values.timeout, "timeout", true), json: values.json as boolean | undefined, inspect,
        pvh: values.pvh === true,
      });
    }
    case "stats": {
      const domain = one("stats", positionals, "one domain name or id");
      const { readStats, formatStats, xenstoreCommands } = await import("./stats.ts");
      const timeout = positiveInt(values.timeout, "timeout");
      const snapshot = await readStats(xenstoreCommands(), domain, {
        request: values["no-request"] !== true, timeoutMs: timeout === undefined ? undefined : timeout * 1000,
      });
      process.stdout.write(formatStats(snapshot));
      return snapshot.entries.length > 0 ? 0 : 1;
    }
    case "run": {
      const image = one("run", positionals, "one image");
      const { runImage } = await import("./run.ts");
      return runImage({
        image, ...devices(values), memoryMB: positiveInt(values.memory, "memory"), extra: values.extra as string | undefined,
        expect: regex(values.expect), timeoutSec: positiveInt(values.timeout, "timeout", true), json: values.json as boolean | undefined,
        pvh: values.pvh === true,
      });
    }
    case "init": {
      if (positionals.length > 1) throw new UsageError(`init takes at most one directory\n\n${commandHelp("init")}`);
      const { initProject } = await import("./init.ts");
      initProject({ dir: positionals[0] ?? ".", force: values.force as boolean | undefined, log: (line: string) => console.log(line) });
      return 0;
    }
  }
  return EXIT.usage;
}

function runtimeOf(value: unknown): Runtime | undefined {
  if (value === undefined) return undefined;
  if (!(RUNTIMES as readonly string[]).includes(value as string)) throw new UsageError(`--runtime: unknown runtime '${value}' (${RUNTIMES.join(", ")})`);
  return value as Runtime;
}

// Errors a user can fix: one line (or a few), no stack trace.
export function userError(e: unknown): string | null {
  if (e instanceof UsageError || e instanceof BuildError || e instanceof MissingToolError || e instanceof WasmCheckError || e instanceof DeviceError || e instanceof InitError) return e.message;
  if (e instanceof Error && e.name === "StatsError") return e.message;   // tools/stats.ts, loaded on demand
  return null;
}
