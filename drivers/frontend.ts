// What netfront and blkfront share as xenbus frontends: the device's life
// after the handshake, and hot-plug both ways (xen/include/public/io/
// xenbus.h's state diagram; libxl's device removal, which sets the
// backend's `online` to 0 and its state to Closing, then deletes both
// directories once the backend is Closed; Linux xen-netback/xen-blkback,
// which answer a frontend that goes back to Initialising after Closed with
// InitWait: "prepare for reconnect").
//
//  - Once connected, the backend's state is watched. When the backend
//    closes (`xl network-detach`/`block-detach`, a backend's fatal error, a
//    driver domain going away) the device stops, goes Closing and Closed,
//    closes its ports and ends its grants (retried while the backend still
//    maps some, then counted as leaked), and the app is told (down()).
//  - If the backend is still online, the frontend goes back to
//    Initialising and connects again as soon as the backend is in InitWait.
//  - A DeviceSet watches device/<type>: devices attached at runtime are
//    connected, removed ones are marked detached (and torn down if needed);
//    a removed device that comes back is connected again, same object.
//  - A protocol violation (fail()) marks the device broken for good: it is
//    closed and not reconnected unless the toolstack attaches it anew.
//  - After a resume in a new domain (runtime/suspend.ts: xl restore, xl
//    migrate) the backend, our ports and our grants are gone: the device
//    stops as if its backend had closed, keeping what was in flight, forgets
//    its ports (without closing them: their numbers may be the new domain's)
//    and grants, tells the app it went down, and connects to its new
//    backend (the backend path names the new domain) once that is in
//    InitWait, sending again what it kept.
// Everything here runs from watch handlers, which may block (runtime/
// handler.ts) and are never re-entered; what arrives meanwhile is looked
// at again when they return.
import { log } from "../runtime/log";
import * as XB from "../runtime/abi/xenbus";
import { Task, defer, sleep, holdLoop, releaseLoop } from "../runtime/loop";
import { Handler } from "../runtime/handler";
import * as xs from "../xenstore/client";
import { WatchHandler } from "../xenstore/client";
import * as xenbus from "../xenstore/xenbus";
import { Resumable, registerResumable, RESUME_DEVICES } from "../runtime/suspend";

// How long the closing handshake waits for the backend at each step, and
// how long grants the backend still maps are retried at release.
const CLOSE_WAIT_NS: u64 = 5_000_000_000;
const RELEASE_RETRIES: i32 = 50;
const RELEASE_RETRY_NS: u64 = 20_000_000;

class BackendWatch extends WatchHandler {
  constructor(public dev: Frontend) { super(); }
  onWatch(path: string, token: string): void { this.dev.backendChanged(); }
}

class Teardown extends Task {
  constructor(public dev: Frontend) { super(); }
  run(): void { this.dev.closeAndRelease(); }
}

let watchSerial: i32 = 0;

class AfterMove extends Task {
  constructor(public dev: Frontend) { super(); }
  run(): void { this.dev.afterMove(); }
}

class DeviceResume extends Resumable {
  constructor(public dev: Frontend) { super(); }
  resumed(newDomain: bool): void {
    if (newDomain) this.dev.movedToNewDomain();
  }
}

export abstract class Frontend {
  connected: bool = false;
  broken: string | null = null;   // why the device is unusable for good (a protocol violation)
  detached: bool = false;         // the toolstack removed it
  closed: bool = false;           // closed by the app or at shutdown: never reconnected
  connects: i32 = 0;              // handshakes that succeeded (more than one: it reconnected)
  leakedGrants: i32 = 0;          // grants the backend still mapped when we gave up on them
  granted: bool = false;          // grants or ports given out and not yet released
  private watch: BackendWatch | null = null;
  private watchToken: string = "";
  private watchPath: string = "";
  private inTransition: bool = false;  // inside a connect or a teardown (which block)
  private holding: bool = false;       // keeps the loop running while we wait for the backend
  private resumable: bool = false;     // registered with runtime/suspend.ts
  moving: bool = false;                // resumed in a new domain, the backend not yet looked up again

  constructor(public info: xenbus.DeviceInfo) {}

  // ---- what each driver provides

  // "netfront", "blkfront": the log prefix.
  abstract driverName(): string;
  // The handshake, from reading the backend's features to Connected.
  // Returns null, or why the device cannot be used.
  protected abstract setUp(): string | null;
  // No new I/O from now on: ports unregistered. Requests in flight or
  // queued are failed with `why`, or, with `hold` (the backend may come
  // back), kept to be sent again after the reconnect.
  protected abstract stop(why: string, hold: bool): void;
  // Closes the event channels.
  protected abstract closePorts(): void;
  // Forgets the event channels without closing them (after a resume: they
  // no longer exist).
  protected abstract forgetPorts(): void;
  // One pass over every grant given out: ends those the backend no longer
  // maps. Returns how many it still maps.
  protected abstract endGrants(): i32;
  // Tell the app.
  protected abstract up(): void;
  protected abstract down(why: string): void;

  // ---- the life cycle

  // "netfront 0", "blkfront 51712": how logs name the device.
  label(): string {
    return this.driverName() + " " + this.info.id;
  }

  // The first handshake (and again after a re-attach). Returns null or why
  // the device is broken.
  start(): string | null {
    if (!this.resumable) {
      this.resumable = true;
      registerResumable(new DeviceResume(this), RESUME_DEVICES);
    }
    if (this.closed || this.broken !== null) return this.broken;
    this.inTransition = true;
    const err = this.setUp();
    this.inTransition = false;
    if (err !== null) return this.fail(err);
    this.becameConnected();
    return null;
  }

  // While the device waits for its backend to come back it has no port,
  // so it keeps the loop running itself.
  private waitForBackend(on: bool): void {
    if (on == this.holding) return;
    this.holding = on;
    if (on) holdLoop();
    else releaseLoop();
  }

  private becameConnected(): void {
    this.waitForBackend(false);
    this.connected = true;
    this.connects++;
    this.watchBackend();
    this.up();
  }

  // A protocol violation or a handshake that cannot succeed: logged once,
  // I/O stopped, the app told, and the device closed from the loop (not
  // from inside the handler that found the violation).
  fail(why: string): string {
    if (this.broken !== null) return why;
    this.broken = why;
    this.waitForBackend(false);
    log(this.label() + ": broken: " + why);
    const wasConnected = this.connected;
    this.connected = false;
    this.stop(why, false);
    this.unwatchBackend();
    if (this.granted) defer(new Teardown(this));
    if (wasConnected) this.down(why);
    return why;
  }

  // Closes the device for good (the app, or the domain shutting down).
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.waitForBackend(false);
    this.unwatchBackend();
    const wasConnected = this.connected;
    this.connected = false;
    this.stop(this.label() + ": closed", false);
    this.closeAndRelease();
    if (wasConnected) this.down("closed");
  }

  // Closing, then Closed once the backend follows (bounded waits), then
  // ports and grants released.
  closeAndRelease(): void {
    if (!this.granted) return;
    const dir = this.info.frontendPath;
    const be = this.info.backendPath;
    const gone = xenbus.stateBit(XB.XenbusStateClosing) | xenbus.stateBit(XB.XenbusStateClosed) | xenbus.stateBit(XB.XenbusStateUnknown);
    xenbus.switchState(dir, XB.XenbusStateClosing);
    xenbus.waitForState(be, gone, CLOSE_WAIT_NS);
    xenbus.switchState(dir, XB.XenbusStateClosed);
    // Backends let go of their mappings on our Closed (blkback once it is Closed too).
    xenbus.waitForState(be, xenbus.stateBit(XB.XenbusStateClosed) | xenbus.stateBit(XB.XenbusStateUnknown), CLOSE_WAIT_NS);
    this.release();
  }

  // Ports closed, grants ended: retried for a while as a backend may unmap
  // a little after saying Closed; what it still maps then stays granted
  // (never reused) and is counted.
  private release(): void {
    this.closePorts();
    let left = this.endGrants();
    for (let attempt = 0; left > 0 && attempt < RELEASE_RETRIES; attempt++) {
      sleep(RELEASE_RETRY_NS);
      left = this.endGrants();
    }
    this.granted = false;
    this.leakedGrants += left;
    if (left > 0) log(this.label() + ": " + left.toString() + (left == 1 ? " grant" : " grants") + " still mapped by the backend, left granted");
  }

  // ---- following the backend

  private watchBackend(): void {
    if (this.watch !== null) return;
    const w = new BackendWatch(this);
    this.watch = w;
    this.watchPath = this.info.backendPath + "/state";
    this.watchToken = "tsxen-" + this.driverName() + "-" + this.info.id + "-" + (watchSerial++).toString();
    xs.watch(this.watchPath, this.watchToken, w);
  }

  private unwatchBackend(): void {
    if (this.watch === null) return;
    this.watch = null;
    xs.unwatch(this.watchPath, this.watchToken);
  }

  // The backend's state changed (or its watch fired at once).
  backendChanged(): void {
    if (this.closed || this.broken !== null || this.detached || this.inTransition || this.moving) return;
    const state = xenbus.readState(this.info.backendPath);
    if (this.connected) {
      if (state == XB.XenbusStateConnected) return;
      this.lose("the backend is " + stateName(state));
      this.rejoin();
    } else if (state == XB.XenbusStateInitWait) {
      this.reconnect();
    }
  }

  // The backend went away while we were connected: tear down and tell.
  private lose(why: string): void {
    this.connected = false;
    this.waitForBackend(true);
    this.inTransition = true;
    this.stop(this.label() + ": disconnected: " + why, true);
    log(this.label() + ": disconnected: " + why);
    this.closeAndRelease();
    this.inTransition = false;
    this.down(why);
  }

  // After our Closed: a backend that is still online gets a frontend in
  // Initialising (it answers with InitWait, and backendChanged reconnects);
  // one going offline is about to be removed (the DeviceSet sees that).
  private rejoin(): void {
    if (this.closed || this.detached || this.broken !== null) return;
    const online = xs.read(this.info.backendPath + "/online");
    if (online.error !== null || online.text() != "1") return;
    xenbus.switchState(this.info.frontendPath, XB.XenbusStateInitialising);
  }

  // True while the device's handshake or teardown runs. Those block, so
  // anything running now runs nested inside them: it cannot wait for them
  // to end (a blocking call made now would wait forever).
  inHandshake(): bool {
    return this.inTransition;
  }

  // True while the device waits for its backend to come back.
  waitingForBackend(): bool {
    return !this.connected && !this.inTransition && !this.closed && !this.detached && this.broken === null;
  }

  private reconnect(): void {
    const info = xenbus.deviceInfo(this.info.type, this.info.id);
    if (info !== null) this.info = info;
    this.inTransition = true;
    const err = this.setUp();
    this.inTransition = false;
    if (this.closed || this.detached) return;
    if (err !== null) { this.fail(err); return; }
    log(this.label() + ": reconnected");
    this.becameConnected();
  }

  // The domain resumed in a new domain (see the header). Runs for every
  // device before anything blocks (a blocking call would let watch events
  // about the old backends reach devices not yet told); what needs
  // xenstore replies follows from the loop (afterMove).
  movedToNewDomain(): void {
    if (this.closed || this.detached || this.broken !== null) return;
    const wasConnected = this.connected;
    this.connected = false;
    if (this.granted) {
      this.stop(this.label() + ": suspended", true);
      this.forgetPorts();
      const left = this.endGrants(); // nothing is mapped in a new domain: all of them end
      this.granted = false;
      this.leakedGrants += left;
    }
    this.waitForBackend(true);
    this.moving = true; // watch events about the old backend are ignored until afterMove
    if (wasConnected) this.down("suspended");
    defer(new AfterMove(this));
  }

  // The backend path names the new domain: read again, and watched anew
  // (the watch fires at once: backendChanged connects once it is InitWait).
  afterMove(): void {
    if (this.closed || this.detached || this.broken !== null) { this.moving = false; return; }
    this.unwatchBackend();
    const info = xenbus.deviceInfo(this.info.type, this.info.id);
    if (info !== null) this.info = info;
    log(this.label() + ": resumed in a new domain, waiting for the backend at " + this.info.backendPath);
    this.moving = false;
    this.watchBackend();
  }

  // The toolstack removed the device (its directory is gone).
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.waitForBackend(false);
    this.unwatchBackend();
    if (this.connected && !this.inTransition) this.lose("detached");
    else this.stop(this.label() + ": detached", false);
  }

  // The device is back (attached again), or its backend moved: a new
  // backend, so a clean slate.
  reattach(info: xenbus.DeviceInfo): void {
    this.unwatchBackend();
    this.info = info;
    this.detached = false;
    this.broken = null;
    if (this.closed) return;
    if (this.start() === null) log(this.label() + ": attached again");
  }
}

// Told when a device of a driver connects (at start, after a reconnect,
// or newly attached) and when it loses its backend. Called from the loop,
// never re-entered (runtime/handler.ts).
export class DeviceHandler<T> extends Handler {
  onConnect(dev: T): void {}
  onDisconnect(dev: T, why: string): void {}
}

// Connects and disconnects of one driver's devices, delivered to its
// handlers in order, from the loop (or at once by deliverNow(), e.g. from
// connectVifs() in main). While a handler is running the rest wait.
export class DeviceNews<T> extends Task {
  handlers: Array<DeviceHandler<T>> = new Array<DeviceHandler<T>>();

  // An app with a handler waits for devices attached later: the loop keeps
  // running for it (until the domain shuts down).
  listen(handler: DeviceHandler<T>): void {
    if (this.handlers.length == 0) holdLoop();
    this.handlers.push(handler);
  }

  devs: Array<T> = new Array<T>();
  ups: Array<bool> = new Array<bool>();
  whys: Array<string> = new Array<string>();
  scheduled: bool = false;

  post(dev: T, up: bool, why: string): void {
    if (this.handlers.length == 0) return;
    this.devs.push(dev);
    this.ups.push(up);
    this.whys.push(why);
    if (!this.scheduled) {
      this.scheduled = true;
      defer(this);
    }
  }

  ready(): bool {
    for (let i = 0; i < this.handlers.length; i++) if (this.handlers[i].running) return false;
    return true;
  }

  run(): void {
    this.deliverNow();
    if (this.devs.length > 0) defer(this); // a handler was running: the rest later
    else this.scheduled = false;
  }

  deliverNow(): void {
    while (this.devs.length > 0 && this.ready()) {
      const dev = this.devs.shift();
      const up = this.ups.shift();
      const why = this.whys.shift();
      for (let i = 0; i < this.handlers.length; i++) {
        const h = this.handlers[i];
        h.running = true;
        if (up) h.onConnect(dev);
        else h.onDisconnect(dev, why);
        h.running = false;
      }
    }
  }
}

function stateName(state: i32): string {
  if (state == XB.XenbusStateClosing) return "closing";
  if (state == XB.XenbusStateClosed) return "closed";
  if (state == XB.XenbusStateUnknown) return "gone (no state)";
  return "in state " + state.toString();
}

// Reacts to devices appearing or going (device/<type>/<id> itself), not to
// the keys inside them (a handshake writes a dozen).
class DeviceDirWatch extends WatchHandler {
  constructor(public set: DeviceSet) { super(); }
  onWatch(path: string, token: string): void {
    const dir = "device/" + this.set.type;
    const at = path.indexOf(dir);
    if (at >= 0 && path.indexOf("/", at + dir.length + 1) >= 0) return;
    this.set.scan();
  }
}

// The devices of one type ("vif", "vbd") under device/: connects those the
// toolstack adds, marks removed ones detached.
export abstract class DeviceSet {
  devices: Array<Frontend> = new Array<Frontend>();
  private watching: bool = false;

  constructor(public type: string) {}

  // A device object for a newly found id (not yet connected).
  protected abstract create(info: xenbus.DeviceInfo): Frontend;

  private find(id: string): Frontend | null {
    for (let i = 0; i < this.devices.length; i++) if (this.devices[i].info.id == id) return this.devices[i];
    return null;
  }

  // Connects every device listed that we do not have, re-connects those
  // that came back, and detaches those no longer listed.
  scan(): void {
    const ids = xenbus.listDevices(this.type);
    for (let i = 0; i < ids.length; i++) {
      const dev = this.find(ids[i]);
      if (dev !== null && dev.moving) continue; // it looks its backend up itself (afterMove)
      if (dev !== null && !dev.detached && !dev.waitingForBackend()) continue;
      const info = xenbus.deviceInfo(this.type, ids[i]);
      if (info === null) {
        // Being created or removed right now: the next event tells.
        if (dev === null && !this.watching) log(this.type + ": " + xenbus.lastError);
        continue;
      }
      if (dev !== null) {
        // Back after a removal, or its backend moved (a driver domain
        // replaced); one that still waits for the same backend stays as is.
        if (dev.detached || info.backendPath != dev.info.backendPath) dev.reattach(info);
      } else {
        const created = this.create(info);
        this.devices.push(created);
        created.start();
      }
    }
    for (let i = 0; i < this.devices.length; i++) {
      const dev = this.devices[i];
      if (!dev.detached && !ids.includes(dev.info.id)) dev.detach();
    }
  }

  // From now on, devices added or removed under device/<type> are noticed.
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    xs.watch("device/" + this.type, "tsxen-devices-" + this.type, new DeviceDirWatch(this));
  }
}
