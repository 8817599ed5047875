// examples/hello: the smallest tsxen app. Greets, reports what it learned
// from Xen's start_info page, and powers the guest off.
import { log, startInfo, exit, bootTimeNs } from "tsxen";

export function main(): void {
  const si = startInfo();
  log("Hello from tsxen!");
  log("RAM: " + si.nrPages.toString() + " pages (" + (si.ramBytes >> 20).toString() + " MiB)");
  log("console event channel: " + si.consoleEvtchn.toString());
  log("xenstore event channel: " + si.storeEvtchn.toString());
  log("booted in " + (bootTimeNs() / 1000).toString() + " us (from the first instruction to main)");
  if (si.cmdLine.length > 0) log("command line: " + si.cmdLine);
  exit(0);
}
