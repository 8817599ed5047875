// Suspend and resume: what `xl save`, `xl restore` and `xl migrate` need
// from the guest (libxl's PV control protocol: the toolstack writes
// "suspend" into control/shutdown, lifecycle.ts acknowledges and calls
// suspendDomain()). The guest is single-threaded and suspends from inside a
// watch handler, so nothing issues new I/O meanwhile: quiescing is implicit.
//
//  1. the app's onSuspend, then each Resumable's suspending() (the grant
//     table's frames unmapped under PV: a mapping of a Xen page cannot be
//     saved);
//  2. HOSTOP_SUSPEND: the host's mode-specific half (runtime/native/
//     suspend.c: start_info's ring frames made pseudo-physical, shared_info
//     unmapped, SCHEDOP_shutdown(SHUTDOWN_suspend), shared_info mapped
//     again). It returns 1 if the suspend was cancelled (xl save -c, a
//     failed migration: XEN_ELFNOTE_SUSPEND_CANCEL), 0 in a new domain;
//  3. in a new domain: the clock made to continue (time.ts), start info
//     read again (new ports and frames), every event-channel registration
//     forgotten (the ports are gone), then the Resumables in stage order —
//     the grant table placed again, xenstore on its new port with its
//     watches registered again, then the devices, which connect to their
//     new backends and send again what was in flight;
//  4. the app's onResume.
import { hypercall, HOSTOP_SUSPEND } from "./host";
import { Handler } from "./handler";
import { monotonicNs, wallClockNs, clockResumed } from "./time";
import { reloadStartInfo } from "./start_info";
import { forgetAllPorts } from "./events";
import { consoleFlush } from "./console";
import { log } from "./log";

// Resumables run in this order after a resume (and the reverse before a suspend).
export const RESUME_GRANT_TABLE: i32 = 0;
export const RESUME_XENSTORE: i32 = 1;
export const RESUME_DEVICES: i32 = 2;
const STAGES: i32 = 3;

// Runtime state that depends on the domain (grant table, xenstore, devices).
export abstract class Resumable {
  // Just before the suspend hypercall.
  suspending(): void {}
  // After it: in a new domain (`newDomain`), or the same one (cancelled).
  abstract resumed(newDomain: bool): void;
}

// An app's hooks. onSuspend runs before the domain is suspended (devices
// still connected); onResume after the devices have been told (they
// reconnect in the background: a DeviceHandler's onConnect says when).
export class SuspendHandler extends Handler {
  onSuspend(): void {}
  // `newDomain`: restored or migrated (false: the suspend was cancelled,
  // e.g. `xl save -c`, and the guest simply carries on).
  onResume(newDomain: bool): void {}
}

const resumables = new Array<Resumable>();
const resumableStages = new Array<i32>();
const handlers = new Array<SuspendHandler>();
let suspends: i32 = 0;
let newDomains: i32 = 0;

export function registerResumable(r: Resumable, stage: i32): void {
  resumables.push(r);
  resumableStages.push(stage);
}

// Adds an app's suspend/resume hooks.
export function onSuspendResume(handler: SuspendHandler): void {
  handlers.push(handler);
}

// Suspends done so far, and how many of them resumed in a new domain.
export function suspendCount(): i32 { return suspends; }
export function resumeCount(): i32 { return newDomains; }

// Suspends the domain; returns when it runs again. Returns 0 (resumed in a
// new domain), 1 (cancelled: the same domain) or Xen's negative error (the
// suspend failed: the same domain too).
export function suspendDomain(): i64 {
  const monoBefore = monotonicNs();
  const wallBefore = wallClockNs();
  for (let i = 0; i < handlers.length; i++) handlers[i].onSuspend();
  for (let stage = STAGES - 1; stage >= 0; stage--) {
    for (let i = resumables.length - 1; i >= 0; i--) if (resumableStages[i] == stage) resumables[i].suspending();
  }
  log("suspending");
  consoleFlush();
  const rc = hypercall(HOSTOP_SUSPEND, 0, 0, 0, 0, 0);
  suspends++;
  const newDomain = rc == 0;
  if (newDomain) {
    newDomains++;
    clockResumed(monoBefore, wallBefore);
    reloadStartInfo();
    forgetAllPorts();
  }
  for (let stage = 0; stage < STAGES; stage++) {
    for (let i = 0; i < resumables.length; i++) if (resumableStages[i] == stage) resumables[i].resumed(newDomain);
  }
  if (newDomain) log("resumed in a new domain");
  else if (rc == 1) log("suspend cancelled: carrying on");
  else log("suspend failed (Xen error " + rc.toString() + "): carrying on");
  for (let i = 0; i < handlers.length; i++) handlers[i].onResume(newDomain);
  return rc;
}
