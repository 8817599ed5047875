// tsxen command line: build, run.
import { build, BuildError } from "./build.ts";
import { MissingToolError } from "./toolchain.ts";
import { WasmCheckError } from "./wasm-check.ts";

const USAGE = `usage:
  tsxen build <app.ts> -o <image> [--memory MiB] [--name NAME]
      AssemblyScript app -> x86-64 Xen PV image, plus <image>.cfg (xl config)
  tsxen sim <app.ts | module.wasm> [--memory MiB] [--extra CMDLINE]
      runs the app in the simulated Xen host (Node), prints its console
  tsxen sim ... --inspect[=[HOST:]PORT] [--break]
      the same under Node's inspector (Chrome DevTools, VS Code), stopping at main with --break
  tsxen run <image> [--memory MiB] [--extra CMDLINE] [--timeout SECONDS]
      boots the image under real Xen (Xen 4.17 + Linux dom0 in QEMU), console live
  tsxen stats <domain | domid> [--no-request] [--timeout SECONDS]
      in dom0: the counters a running tsxen guest publishes in xenstore
`;

function fail(message: string): never {
  console.error(`tsxen: ${message}`);
  process.exit(2);
}

// `valueFlags`: "--flag VALUE" -> flags[key]; `switches`: "--flag" ->
// flags["flag"] = ""; `optionalValue`: "--flag" or "--flag=VALUE".
function parseArgs(
  argv: string[], valueFlags: Record<string, string>, switches: string[] = [], optionalValue: string[] = [],
): { positional: string[]; flags: Record<string, string> } {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const key = valueFlags[arg];
    const [name, value] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, ""];
    if (key) {
      if (i + 1 >= argv.length) fail(`${arg} needs a value\n${USAGE}`);
      flags[key] = argv[++i];
    } else if (switches.includes(arg)) {
      flags[arg.slice(2)] = "";
    } else if (optionalValue.includes(name)) {
      flags[name.slice(2)] = value;
    } else if (arg.startsWith("-")) {
      fail(`unknown option ${arg}\n${USAGE}`);
    } else {
      positional.push(arg);
    }
  }
  return { positional, flags };
}

function intFlag(flags: Record<string, string>, key: string): number | undefined {
  if (flags[key] === undefined) return undefined;
  const n = Number(flags[key]);
  if (!Number.isInteger(n) || n <= 0) fail(`--${key} takes a positive whole number, not '${flags[key]}'`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "build": {
      const { positional, flags } = parseArgs(rest, { "-o": "output", "--output": "output", "--memory": "memory", "--name": "name" });
      if (positional.length !== 1 || !flags.output) fail(`build takes one app file and -o <image>\n${USAGE}`);
      await build({ entry: positional[0], output: flags.output, memoryMB: intFlag(flags, "memory"), name: flags.name, log: (s) => console.log(s) });
      return 0;
    }
    case "sim": {
      const { positional, flags } = parseArgs(rest, { "--memory": "memory", "--extra": "extra" }, ["--break"], ["--inspect"]);
      if (positional.length !== 1) fail(`sim takes one app (.ts) or module (.wasm)\n${USAGE}`);
      if (flags.break !== undefined && flags.inspect === undefined) fail("--break goes with --inspect");
      const { simApp } = await import("./sim.ts");
      const { parseInspect } = await import("./inspect.ts");
      let inspect;
      try {
        inspect = flags.inspect === undefined ? undefined : { ...parseInspect(flags.inspect), breakAtMain: flags.break !== undefined };
      } catch (e) {
        fail((e as Error).message);
      }
      return simApp({ input: positional[0], memoryMB: intFlag(flags, "memory"), cmdline: flags.extra, inspect });
    }
    case "stats": {
      const { positional, flags } = parseArgs(rest, { "--timeout": "timeout" }, ["--no-request"]);
      if (positional.length !== 1) fail(`stats takes one domain name or id\n${USAGE}`);
      const { readStats, formatStats, xenstoreCommands } = await import("./stats.ts");
      const timeout = intFlag(flags, "timeout");
      const snapshot = await readStats(xenstoreCommands(), positional[0], {
        request: flags["no-request"] === undefined, timeoutMs: timeout === undefined ? undefined : timeout * 1000,
      });
      process.stdout.write(formatStats(snapshot));
      return snapshot.entries.length > 0 ? 0 : 1;
    }
    case "run": {
      const { positional, flags } = parseArgs(rest, { "--memory": "memory", "--extra": "extra", "--timeout": "timeout" });
      if (positional.length !== 1) fail(`run takes one image\n${USAGE}`);
      const { runImage } = await import("./run.ts");
      return runImage({ image: positional[0], memoryMB: intFlag(flags, "memory"), extra: flags.extra, timeoutSec: intFlag(flags, "timeout") });
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      fail(`unknown command '${command}'\n${USAGE}`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof BuildError || e instanceof MissingToolError || e instanceof WasmCheckError || (e as Error).name === "StatsError") fail((e as Error).message);
  throw e;
}
