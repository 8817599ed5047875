// xenbus: the device-discovery and handshake conventions built on xenstore
// (io/xenbus.h, docs/misc/xenstore-paths.pandoc). A frontend finds its
// devices under device/<type>/<id>, reads where the backend lives, and
// both ends step through XenbusState values in their `state` keys.
import * as XB from "../runtime/abi/xenbus";
import * as xs from "./client";
import { WatchHandler } from "./client";
import { Condition, waitFor } from "../runtime/loop";

export class DeviceInfo {
  constructor(
    public type: string,
    public id: string,
    public frontendPath: string,   // device/<type>/<id> (relative to our home)
    public backendPath: string,    // absolute, from the frontend's `backend` key
    public backendId: u16,         // from `backend-id`
  ) {}
}

// Ids of the devices of `type` ("vif", "vbd") the toolstack gave us.
export function listDevices(type: string): string[] {
  const r = xs.directory("device/" + type);
  return r.error !== null ? new Array<string>() : r.strings();
}

// Where the backend of device/<type>/<id> lives; null with the reason in
// `lastError` if the keys are missing or malformed.
export let lastError: string = "";
export function deviceInfo(type: string, id: string): DeviceInfo | null {
  const front = "device/" + type + "/" + id;
  const backend = xs.read(front + "/backend");
  const backendId = readInt(front, "backend-id", -1);
  if (backend.error !== null || backendId < 0 || backendId > 0x7fef) {
    lastError = front + ": no usable backend/backend-id";
    return null;
  }
  return new DeviceInfo(type, id, front, backend.text(), <u16>backendId);
}

// Reads `<dir>/<key>` as a decimal integer; `fallback` if absent or not a number.
export function readInt(dir: string, key: string, fallback: i64): i64 {
  const r = xs.read(dir + "/" + key);
  if (r.error !== null) return fallback;
  const t = r.text();
  if (t.length == 0 || t.length > 19) return fallback;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return fallback;
  }
  return I64.parseInt(t);
}

// Feature flags are "1"/"0" (absent = 0).
export function readFeature(dir: string, key: string): bool {
  return readInt(dir, key, 0) == 1;
}

// A value outside the xenbus_state enum reads as Unknown (the peer's keys
// are not trusted, and a state is used as a bit index).
export function readState(dir: string): i32 {
  const state = readInt(dir, "state", XB.XenbusStateUnknown);
  return state < 0 || state > XB.XenbusStateReconfigured ? XB.XenbusStateUnknown : <i32>state;
}

export function switchState(dir: string, state: i32, tx: u32 = 0): string | null {
  return xs.write(dir + "/state", state.toString(), tx).error;
}

class StateWatch extends WatchHandler {
  changed: bool = true;
  onWatch(path: string, token: string): void {
    this.changed = true;
  }
}

class StateReached extends Condition {
  state: i32 = XB.XenbusStateUnknown;
  constructor(public dir: string, public acceptable: u32, public watch: StateWatch) { super(); }
  done(): bool {
    if (!this.watch.changed) return false;
    this.watch.changed = false;
    this.state = readState(this.dir);
    return ((1 << this.state) & this.acceptable) != 0;
  }
}

let watchSerial = 0;

// Waits until `<dir>/state` is one of the states in the bit set
// `acceptable` (1 << XenbusState…). Returns the state reached, or -1 on
// timeout. Skipped states are fine: only the current value matters.
export function waitForState(dir: string, acceptable: u32, timeoutNs: u64): i32 {
  const w = new StateWatch();
  const token = "tsxen-state-" + (watchSerial++).toString();
  const set = xs.watch(dir + "/state", token, w);
  if (set.error !== null) return -1;
  const reached = new StateReached(dir, acceptable, w);
  const ok = waitFor(reached, timeoutNs);
  xs.unwatch(dir + "/state", token);
  return ok ? reached.state : -1;
}

export function stateBit(state: i32): u32 {
  return <u32>1 << state;
}
