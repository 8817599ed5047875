// The guest's command line as a test app's own. tests/apps/xen-probe.ts and
// tests/apps/sim-probe.ts each hold several test apps and run the one a
// leading "probe=<app>" word names (runProbe); an app started that way reads
// the rest, one started alone all of it.
import { log, startInfo } from "tsxen";

// The command line without a leading "probe=<app>" word.
export function appArgs(): string {
  const line = startInfo().cmdLine;
  if (!line.startsWith("probe=")) return line;
  const space = line.indexOf(" ");
  return space < 0 ? "" : line.substr(space + 1);
}

// The app a leading "probe=<app>" word names, or "".
export function probeName(): string {
  const line = startInfo().cmdLine;
  if (!line.startsWith("probe=")) return "";
  const space = line.indexOf(" ");
  return line.substring(6, space < 0 ? line.length : space);
}

// One app of a probe module: its name in "probe=<name>" and its main().
export class ProbeApp {
  constructor(readonly name: string, readonly main: () => void) {}
}

// Runs the app of `apps` that the command line's "probe=<app>" word names;
// `probe` (the module's name) says which module had none by that name.
export function runProbe(probe: string, apps: ProbeApp[]): void {
  const name = probeName();
  for (let i = 0; i < apps.length; i++) {
    if (apps[i].name == name) {
      const run = apps[i].main;
      run();
      return;
    }
  }
  log(probe + ": no app '" + name + "' (a command line starting \"probe=<app> \")");
}
