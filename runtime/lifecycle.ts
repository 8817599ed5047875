// The domain's life cycle as the toolstack drives it: `xl shutdown` and
// `xl reboot` write "poweroff" / "reboot" into control/shutdown (libxl's PV
// control protocol); the guest acknowledges by clearing the key, closes its
// devices and shuts down with that reason. Apps may add a handler.
import * as xs from "../xenstore/client";
import { WatchHandler } from "../xenstore/client";
import { startInfo } from "./start_info";
import { shutdownWith } from "./exit";
import { suspendDomain, registerResumable, Resumable, RESUME_DEVICES } from "./suspend";
import { SHUTDOWN_poweroff, SHUTDOWN_reboot, SHUTDOWN_crash } from "./abi/xen";

// Something that must be closed before the domain goes away (a device).
export abstract class Closable {
  abstract close(): void;
}

// Called when the toolstack asks the domain to shut down, before devices
// are closed. `reason` is SHUTDOWN_poweroff or SHUTDOWN_reboot.
export abstract class ShutdownHandler {
  abstract onShutdown(reason: u32): void;
}

const closables = new Array<Closable>();
let appHandler: ShutdownHandler | null = null;
let requested: i32 = -1;

export function registerClosable(c: Closable): void {
  closables.push(c);
}

export function unregisterClosable(c: Closable): void {
  const i = closables.indexOf(c);
  if (i >= 0) closables.splice(i, 1);
}

export function onShutdownRequest(handler: ShutdownHandler): void {
  appHandler = handler;
}

// The reason the toolstack asked for, or -1 if none yet.
export function shutdownRequested(): i32 {
  return requested;
}

// Closes every registered device, flushes the console and shuts down.
export function shutdownDomain(reason: u32): void {
  while (closables.length > 0) closables.pop().close();
  shutdownWith(reason);
}

class ControlWatch extends WatchHandler {
  onWatch(path: string, token: string): void {
    const r = xs.read("control/shutdown");
    if (r.error !== null) return;
    const what = r.text();
    let reason: i32 = -1;
    if (what == "poweroff" || what == "halt") reason = SHUTDOWN_poweroff;
    else if (what == "reboot") reason = SHUTDOWN_reboot;
    if (what == "suspend") {
      xs.write("control/shutdown", "");
      suspendDomain();
      return;
    }
    if (reason < 0) return; // "" (our own acknowledgement) or unsupported
    xs.write("control/shutdown", "");
    requested = reason;
    const h = appHandler;
    if (h !== null) h.onShutdown(<u32>reason);
    shutdownDomain(<u32>reason);
  }
}

let started = false;

// Tells the toolstack which requests we honour (the replies are not awaited).
function announceFeatures(): void {
  xs.writeAsync("control/feature-poweroff", "1");
  xs.writeAsync("control/feature-reboot", "1");
  xs.writeAsync("control/feature-suspend", "1");
}

// A new domain's xenstore directory is the toolstack's fresh one.
class AnnounceAgain extends Resumable {
  resumed(newDomain: bool): void {
    if (newDomain) announceFeatures();
  }
}

// Starts listening for shutdown requests (without waiting for xenstored:
// the watch takes effect while the app runs the event loop).
export function startLifecycle(): void {
  if (started || startInfo().isInitialDomain) return; // dom0 has no toolstack above it
  started = true;
  xs.watchAsync("control/shutdown", "tsxen-control-shutdown", new ControlWatch());
  announceFeatures();
  registerResumable(new AnnounceAgain(), RESUME_DEVICES);
}

export { SHUTDOWN_poweroff, SHUTDOWN_reboot, SHUTDOWN_crash };
