// The tsxen command line (tools/cli.ts): help for every command both ways,
// --version, and one-line errors (exit 2) for bad options, devices and
// forwards, checked before anything is built or booted.
import test from "tape";
import fs from "node:fs";
import { main, userError, commandHelp } from "../../tools/cli.ts";

interface Outcome {
  code: number;
  out: string;
  error: string | null;
}

// Runs the CLI in this process, capturing what it prints.
async function cli(...argv: string[]): Promise<Outcome> {
  const out: string[] = [];
  const saved = { log: console.log, error: console.error };
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void out.push(a.join(" "));
  try {
    return { code: await main(argv), out: out.join("\n"), error: null };
  } catch (e) {
    const message = userError(e);
    if (message === null) throw e;
    return { code: 2, out: out.join("\n"), error: message };
  } finally {
    Object.assign(console, saved);
  }
}

test("cli: --version prints package.json's version", async (t) => {
  const version = (JSON.parse(fs.readFileSync("package.json", "utf8")) as { version: string }).version;
  for (const flag of ["--version", "-V"]) {
    const r = await cli(flag);
    t.equal(r.code, 0, `${flag}: exit 0`);
    t.equal(r.out, version, `${flag}: ${version}`);
  }
});

test("cli: `tsxen help <command>` and `tsxen <command> --help` print the same help, with every option", async (t) => {
  for (const command of ["build", "sim", "run", "init", "stats"]) {
    const a = await cli("help", command);
    const b = await cli(command, "--help");
    const c = await cli(command, "-h");
    t.equal(a.code + b.code + c.code, 0, `${command}: exit 0`);
    t.equal(a.out, b.out, `${command}: help <command> = <command> --help`);
    t.equal(b.out, c.out, `${command}: --help = -h`);
    t.equal(a.out, commandHelp(command));
    t.match(a.out, new RegExp(`^usage: tsxen ${command} `), `${command}: a usage line`);
  }
  const sim = await cli("sim", "--help");
  for (const opt of ["--vif", "--disk", "--forward", "--expect", "--json", "--timeout", "--memory", "--extra", "--pvh"]) t.ok(sim.out.includes(opt), `sim --help lists ${opt}`);
  t.match(sim.out, /exit codes: 0 powered off/, "and the exit codes");
  const build = await cli("build", "--help");
  for (const opt of ["--vif", "--disk", "--libvirt", "--bridge", "--runtime", "-o, --output", "--pvh"]) t.ok(build.out.includes(opt), `build --help lists ${opt}`);
  t.ok((await cli("run", "--help")).out.includes("--pvh"), "run --help lists --pvh");
  const all = await cli("help");
  for (const command of ["build", "sim", "run", "init"]) t.match(all.out, new RegExp(`tsxen ${command} `), `help lists ${command}`);
});

test("cli: usage errors are one clear message and exit 2", async (t) => {
  const cases: [string[], RegExp][] = [
    [["sim", "--bogus", "app.ts"], /^sim: unknown option --bogus \(see tsxen sim --help\)$/],
    [["frobnicate"], /^unknown command 'frobnicate'/],
    [["help", "frobnicate"], /^no command 'frobnicate'/],
    [["build", "app.ts"], /^build needs -o <image>/],
    [["run"], /^run takes one image/],
    [["run", "a.xen", "b.xen"], /^run takes one image, not a\.xen b\.xen/],
    [["sim", "--timeout", "soon", "app.ts"], /^--timeout takes a whole number, not 'soon'$/],
    [["sim", "--memory", "0", "app.ts"], /^--memory takes a positive whole number/],
    [["sim", "--expect", "([", "app.ts"], /^--expect: Invalid regular expression/],
    [["sim", "--break", "app.ts"], /^--break goes with --inspect$/],
    [["build", "--runtime", "gc", "-o", "x.xen", "app.ts"], /^--runtime: unknown runtime 'gc' \(incremental, minimal, stub\)$/],
    [["sim", "--inspect=host:99999", "app.ts"], /^--inspect takes \[HOST:\]PORT/],
    [["run", "--forward", "7000:7/udp", "x.xen"], /^--forward needs a vif \(add --vif\)/],
    [["sim", "--vif", "--forward", "7000", "app.ts"], /^--forward 7000: expected HOSTPORT:GUESTPORT\[\/udp\]/],
    [["sim", "--vif", "--forward", "7000:70000/udp", "app.ts"], /ports are 1 to 65535/],
    [["sim", "--vif", "--forward", "7000:7/udp", "--forward", "7000:8/udp", "app.ts"], /^host UDP port 7000 is forwarded twice$/],
    [["sim", "--vif", "ip=192.168.1.5", "app.ts"], /the guest network is 10\.0\.0\.0\/24/],
    [["sim", "--vif", "ip=10.0.0.1", "app.ts"], /10\.0\.0\.1 \(dom0\)/],
    [["sim", "--vif", "color=red", "app.ts"], /unknown key 'color' \(ip, mac, mtu\)/],
    [["sim", "--vif", "mtu=20000", "app.ts"], /mtu must be a whole number from 576 to 9000/],
    [["sim", "--vif", "mac=01:00:5e:00:00:01", "app.ts"], /multicast MAC/],
    [["sim", "--vif", "--vif", "ip=10.0.0.2", "app.ts"], /two vifs have 10\.0\.0\.2/],
    [["run", "--vif", "absent.xen"], /absent\.xen: no such file/],
    [["sim", "absent.wasm"], /^absent\.wasm: no such file$/],
    [["sim", "package.json"], /package\.json\.d\/app\.wasm: missing \(it is written by tsxen build/],
  ];
  for (const [argv, re] of cases) {
    const r = await cli(...argv);
    t.equal(r.code, 2, `tsxen ${argv.join(" ")}: exit 2`);
    t.match(r.error ?? "", re, `tsxen ${argv.join(" ")}: ${r.error?.split("\n")[0]}`);
  }
  const none = await cli();
  t.equal(none.code, 2, "no command: exit 2");
  t.match(none.out, /^tsxen \d+\.\d+\.\d+: /, "and the usage");
});
