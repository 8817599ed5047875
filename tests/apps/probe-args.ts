// The guest's command line as a test app's own. tests/apps/xen-probe.ts runs
// several test apps from one image and picks one by a leading "probe=<app>"
// word; an app started that way reads the rest, one started alone all of it.
import { startInfo } from "tsxen";

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
