// The sim's network backend: what libxl writes for a vif and what Linux
// netback (drivers/net/xen-netback) does with it, in copy mode. Follows
// xen/include/public/io/netif.h (wire format, feature keys), io/ring.h
// (indices and notification hold-off) and netback's xenbus.c handshake;
// every wire constant comes from runtime/abi/.
//
//  - Toolstack: addVif() creates the frontend and backend directories with
//    libxl's permissions, then the backend probes (features, InitWait) and
//    follows the frontend's state: on Connected it reads the ring refs and
//    event channel(s), maps the rings with dom0's grant mappings and binds
//    the channel; on Closing/Closed it unmaps everything.
//  - TX (guest -> wire): requests are copied out of the guest's granted
//    pages (GNTTABOP_copy), answered OKAY or ERROR, and whole frames go to
//    `deliver`. RX (wire -> guest): inject() picks a queue (a hash of the
//    IPv4 addresses and ports, as netback's select_queue by skb hash) and
//    copies a frame into its next posted RX buffer at offset 0, or drops it
//    if the guest posted none. With feature-sg negotiated a frame may take
//    several slots (NETRXF_more_data; `slotSize` bytes each, PAGE_SIZE by
//    default) and extra-info slots after the first (NETRXF_extra_info);
//    RX checksum flags go on the first slot. A frame is published whole.
//  - Notifications follow ring.h both ways: responses are pushed with
//    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY (a frontend that does not re-arm
//    rsp_event gets no more events), and req_event is re-armed after every
//    drain (RING_FINAL_CHECK_FOR_REQUESTS) so the frontend knows to kick us.
//  - Hostile mode: a seeded generator corrupts responses and xenstore keys
//    (see HOSTILE_KINDS); every fault is recorded in `faults`, marked as a
//    protocol violation the frontend must detect or as something it must
//    merely survive. The same seed gives the same faults.
import * as N from "../runtime/abi/netif.ts";
import * as R from "../runtime/abi/ring.ts";
import * as XB from "../runtime/abi/xenbus.ts";
import { GUEST_DOMID, type Dom0 } from "./hypervisor.ts";
import { GrantError, type GrantMapping } from "./grant-table.ts";
import { XenError } from "./evtchn.ts";
import { XenStoreError, type XenStored } from "./xenstored.ts";
import type { SimGuest } from "./host.ts";
import { PAGE_SIZE } from "./layout.ts";
import { segmentTcp } from "./netswitch.ts";

const ETH_HLEN = 14;
// The slots per TX frame every backend must take; we take no more.
const XEN_NETIF_NR_SLOTS_MIN = N.XEN_NETIF_NR_SLOTS_MIN;
const EVENT_STORM_SPACING_NS = 20_000n;

// ---- options and results

export interface VifFeatures {
  sg?: boolean;                  // feature-sg (default false)
  gso?: boolean;                 // feature-gso-tcpv4 (default false): TX frames with a GSO extra-info slot are cut into segments
  splitEventChannels?: boolean;  // feature-split-event-channels (default false)
  maxQueues?: number;            // multi-queue-max-queues (default: not advertised, one queue)
  rxCopy?: boolean;              // feature-rx-copy (default true; false leaves the key out)
}

// What each fault does, and what the frontend must do about it. A
// violation breaks the protocol: the frontend must say the device is broken
// (netfront: "netfront N: broken: ...", once), stop using it and close it so
// that the grants can be revoked. The others are things a correct backend
// may do: the frontend must count them and carry on.
//
//   bad-id            TX: an id not used in the last ring's worth of requests;
//                     RX: an id other than the one posted in that slot.        violation
//   duplicate-id      TX: the id of a response earlier in the same batch, or
//                     the same response twice (one more than requests);
//                     RX: the previous response's id.                           violation
//   id-out-of-range   an id >= the ring size.                                   violation
//   producer-jump     rsp_prod published more than a ring past the last
//                     response: past anything that can be outstanding.          violation
//   bad-offset        RX: offset + size past the end of the page.               violation
//   bad-size          RX: a size larger than a page.                            violation
//   bad-status        TX: NETIF_RSP_ERROR, _DROPPED or another negative
//                     status (netfront counts a TX error, frees the buffer);
//                     RX: a status <= 0 (netfront drops that frame).           legitimate
//   chain-open        RX: more_data (or, without feature-sg, extra_info) on
//                     a frame's last slot, so its chain runs past the
//                     published responses (a frame is published whole).      violation
//   event-storm       10-100 spurious notifications, 20 us apart.               legitimate
//   xenstore-garbage  once per vif: a garbage frontend mac or backend
//                     feature-rx-copy (netfront refuses the device), a garbage
//                     backend state for good (netfront gives up after its 30 s
//                     connect timeout);                                         violation
//                     a garbage state for 1 ms, then Connected (netfront
//                     waits it out), or a garbage mtu (netfront ignores it).    legitimate
//
// After writing a violation the backend writes nothing more to that ring (it
// is "poisoned") and always notifies, so the fault stays for the frontend to
// find instead of being papered over by later responses.
export const HOSTILE_KINDS = [
  "bad-id", "duplicate-id", "id-out-of-range", "producer-jump", "bad-offset", "bad-size",
  "bad-status", "event-storm", "xenstore-garbage", "chain-open",
] as const;
export type HostileKind = (typeof HOSTILE_KINDS)[number];

export interface HostileOptions {
  seed: number;
  rate: number;           // probability per response (and once per handshake) of a fault
  kinds?: HostileKind[];  // default: all
}

// How inject() lays a frame out in the guest's RX ring.
export interface InjectOptions {
  queue?: number;       // default: a hash of the IPv4 addresses and ports, modulo the queues
  slotSize?: number;    // with feature-sg: bytes per data slot (default PAGE_SIZE)
  extras?: number;      // with feature-sg: extra-info slots after the first (chained with FLAG_MORE)
  extraType?: number;   // their type (default XEN_NETIF_EXTRA_TYPE_GSO)
  flags?: number;       // RX checksum flags on the first slot (NETRXF_data_validated, NETRXF_csum_blank)
  unchecked?: boolean;  // skip the MTU limit (up to XEN_NETIF_MAX_TX_SIZE with feature-sg)
}

export interface VifOptions {
  devid?: number;
  mac?: string;
  ip?: string;
  mtu?: number;
  features?: VifFeatures;
  hostile?: HostileOptions;
  deliver?: (frame: Uint8Array) => void;
  rx?: InjectOptions;  // defaults for every inject()
  // Timing, as Linux netback has it: it follows the frontend's state from a
  // workqueue, some time after the watch fires (reactionDelayNs, default 0:
  // at once), and a hotplug script runs before it probes (probeDelayNs,
  // default 0: the features and InitWait are there when the device appears).
  reactionDelayNs?: number;
  probeDelayNs?: number;
  // A backend that keeps writing into RX buffers after answering them: each
  // frame's buffers get garbage copied into them at dom0's next turn
  // (counted in stats.scribbles / scribblesRefused).
  rxScribble?: boolean;
  // A backend that maps one of the guest's RX buffers at connect and lets
  // go of it only this long after disconnecting (-1: never).
  lateUnmapNs?: number;
}

// One injected fault. `violation`: the frontend must notice and stop using
// the device; otherwise it must survive and carry on.
export interface Fault {
  kind: HostileKind;
  detail: string;
  violation: boolean;
}

export interface VifStats {
  txFrames: number;       // frames taken from the guest and delivered
  txGso: number;          // of those: GSO frames, delivered as the segments cut from them
  txErrors: number;       // TX frames answered with NETIF_RSP_ERROR (bad request, grant copy failed)
  rxFrames: number;       // frames copied into the guest
  rxDropped: number;      // frames not given to the guest: no RX request posted, too large, not connected
  rxErrors: number;       // RX copies that failed (bad grant), answered NETIF_RSP_ERROR
  guestEvents: number;    // notifications from the guest
  notifications: number;  // notifications to the guest (after the hold-off check)
  scribbles: number;      // rxScribble: late copies into an answered RX buffer that went through
  scribblesRefused: number; // and that the grant table refused (the guest had revoked the grant)
}

// What the frontend told us in its handshake.
export interface FrontendInfo {
  rxNotify: boolean;
  sg: boolean;
  noCsumOffload: boolean;
  queues: number;
  splitEventChannels: boolean;
}

export interface QueueStats {
  txFrames: number;
  rxFrames: number;
  txKicks: number;  // guest notifications on the tx port (both rings without split channels)
  rxKicks: number;  // on the rx port (split channels)
  txPort: number;   // dom0's ends
  rxPort: number;
}

export interface RingIndices {
  reqProd: number;
  reqEvent: number;
  rspProd: number;
  rspEvent: number;
}

// ---- seeded randomness (mulberry32: small, fast, reproducible)

class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
}

// Garbage the frontend must reject (none of it parses as a MAC, as "1", or as
// a XenbusState). Numeric states stay below 32: xenstore/xenbus.ts's
// waitForState tests 1 << state, which wraps, so a passing "36" ends the
// wait as if it were Connected (4) and netfront gives up on a backend that
// is about to connect (a known issue there, not exercised here).
const GARBAGE_MACS = ["", "zz:16:3e:00:00:01", "00:16:3e:00:00", "00-16-3e-00-00-01", "00:16:3e:00:00:01:02", "0:16:3e:0:0:1x", "\u00ff\u0000garbage", "x".repeat(3000)];
const GARBAGE_FLAGS = ["", "yes", "true", "1x", "-1", "2", "0x1", " 1", "1.0", "4294967297", "9".repeat(40)];
const GARBAGE_STATES = ["", "connected", "4x", "-1", "9", "31", "0x4", " 4", "4.0", "9".repeat(40)];
const GARBAGE_MTUS = ["", "jumbo", "-1", "0", "99999999999", "1500x"];
const XENSTORE_TARGETS = ["mac", "feature-rx-copy", "state-stuck", "state-transient", "mtu"] as const;
type XenstoreTarget = (typeof XENSTORE_TARGETS)[number];

const RING_KINDS: Record<"tx" | "rx", HostileKind[]> = {
  tx: ["bad-id", "duplicate-id", "id-out-of-range", "producer-jump", "bad-status", "event-storm"],
  rx: ["bad-id", "duplicate-id", "id-out-of-range", "producer-jump", "bad-offset", "bad-size", "bad-status", "event-storm", "chain-open"],
};

class Hostility {
  readonly rng: Rng;
  private readonly kinds: Set<HostileKind>;

  constructor(readonly opts: HostileOptions) {
    this.rng = new Rng(opts.seed);
    this.kinds = new Set(opts.kinds ?? HOSTILE_KINDS);
  }

  // The fault for the next response in `dir`, if the dice say so.
  ringFault(dir: "tx" | "rx"): HostileKind | null {
    const usable = RING_KINDS[dir].filter((k) => this.kinds.has(k));
    if (usable.length === 0 || this.rng.next() >= this.opts.rate) return null;
    return this.rng.pick(usable);
  }

  // Which xenstore key to spoil for this vif, decided once.
  xenstoreFault(): XenstoreTarget | null {
    if (!this.kinds.has("xenstore-garbage") || this.rng.next() >= this.opts.rate) return null;
    return this.rng.pick(XENSTORE_TARGETS);
  }
}

// ---- the backend half of a shared ring (io/ring.h BACK_RING_*)

const u32 = (n: number) => n >>> 0;

class BackRing {
  reqCons = 0;
  rspProdPvt = 0;
  poisoned = false;     // a protocol violation was written: nothing more goes in
  jump = 0;             // responses published beyond those written (producer-jump)
  batch: number[] = []; // ids answered since the last push (for duplicate-id)

  constructor(private readonly view: () => DataView, private readonly mapping: GrantMapping, readonly size: number, readonly slotSize: number) {}

  get base(): number {
    return this.mapping.address;
  }

  slot(index: number): number {
    return this.base + R.SRING_RING + (index & (this.size - 1)) * this.slotSize;
  }

  field(offset: number): number {
    return this.view().getUint32(this.base + offset, true);
  }

  setField(offset: number, value: number): void {
    this.view().setUint32(this.base + offset, u32(value), true);
  }

  // RING_HAS_UNCONSUMED_REQUESTS, or -1 when the frontend claims more
  // requests than a ring holds (netback: "Impossible number of requests").
  unconsumed(): number {
    const published = u32(this.field(R.SRING_REQ_PROD) - this.reqCons);
    if (published > this.size) return -1;
    return Math.min(published, this.size - u32(this.reqCons - this.rspProdPvt));
  }

  // RING_FINAL_CHECK_FOR_REQUESTS: with nothing left, ask for a kick on the
  // next request, then look again (one may have arrived meanwhile).
  finalCheck(): boolean {
    if (this.unconsumed() !== 0) return true;
    this.setField(R.SRING_REQ_EVENT, this.reqCons + 1);
    return this.unconsumed() !== 0;
  }

  // RING_PUSH_RESPONSES_AND_CHECK_NOTIFY; a hostile producer-jump
  // publishes `extra` responses more than were written.
  push(extra = 0): boolean {
    const old = this.field(R.SRING_RSP_PROD);
    const now = u32(this.rspProdPvt + extra);
    this.setField(R.SRING_RSP_PROD, now);
    this.batch = [];
    return u32(now - this.field(R.SRING_RSP_EVENT)) < u32(now - old);
  }

  indices(): RingIndices {
    return { reqProd: this.field(R.SRING_REQ_PROD), reqEvent: this.field(R.SRING_REQ_EVENT), rspProd: this.field(R.SRING_RSP_PROD), rspEvent: this.field(R.SRING_RSP_EVENT) };
  }

  unmap(): void {
    this.mapping.unmap();
  }
}

interface TxRequest {
  gref: number;
  offset: number;
  flags: number;
  id: number;
  size: number;
}

// One queue: a TX and an RX ring and their channel(s) (the same port twice
// without split event channels).
interface Queue {
  tx: BackRing;
  rx: BackRing;
  txPort: number;
  rxPort: number;
  recentTxIds: number[]; // ids of the last NET_TX_RING_SIZE TX requests: what could be in flight
  txFrames: number;      // frames taken from the guest on this queue
  rxFrames: number;      // frames copied into the guest on this queue
  txKicks: number;       // guest notifications on txPort
  rxKicks: number;       // and on rxPort (split event channels only)
  lastRxId: number;
  dead: boolean;         // a fatal frontend error: the queue is not served any more
}

// ---- the vif

export class Vif {
  readonly devid: number;
  readonly mac: string;
  readonly ip: string | null;
  readonly mtu: number;
  readonly frontendPath: string;
  readonly backendPath: string;
  readonly stats: VifStats = { txFrames: 0, txGso: 0, txErrors: 0, rxFrames: 0, rxDropped: 0, rxErrors: 0, guestEvents: 0, notifications: 0, scribbles: 0, scribblesRefused: 0 };
  readonly faults: Fault[] = [];
  deliver: ((frame: Uint8Array) => void) | null;
  // Called when the guest kicks us (it may have posted RX buffers): for a
  // sender that holds frames back while the guest has no room (sim/link.ts).
  rxKick: (() => void) | null = null;
  rxDefaults: InjectOptions;
  frontend: FrontendInfo | null = null;
  error: string | null = null;     // xenbus_dev_fatal's message, or a fatal ring error
  state: number = XB.XenbusStateInitialising;
  private queues: Queue[] = [];
  private readonly features: Required<Omit<VifFeatures, "maxQueues">> & { maxQueues: number | null };
  private readonly hostile: Hostility | null;
  private readonly xenstoreFault: XenstoreTarget | null;
  private readonly watchToken: string;
  private readonly reactionDelayNs: number;
  readonly probeDelayNs: number;
  private readonly rxScribble: boolean;
  private readonly lateUnmapNs: number | null;
  private heldBuffer: GrantMapping | null = null;
  private watching = false;

  constructor(private readonly guest: SimGuest, opts: VifOptions) {
    this.devid = opts.devid ?? 0;
    this.mac = opts.mac ?? `00:16:3e:5a:00:${this.devid.toString(16).padStart(2, "0")}`;
    this.ip = opts.ip ?? null;
    this.mtu = opts.mtu ?? 1500;
    this.deliver = opts.deliver ?? null;
    this.rxDefaults = opts.rx ?? {};
    this.features = { sg: false, gso: false, splitEventChannels: false, rxCopy: true, ...opts.features, maxQueues: opts.features?.maxQueues ?? null };
    this.frontendPath = `/local/domain/${GUEST_DOMID}/device/vif/${this.devid}`;
    this.backendPath = `/local/domain/0/backend/vif/${GUEST_DOMID}/${this.devid}`;
    this.watchToken = `netback-${GUEST_DOMID}-${this.devid}`;
    this.hostile = opts.hostile ? new Hostility(opts.hostile) : null;
    this.xenstoreFault = this.hostile?.xenstoreFault() ?? null;
    this.reactionDelayNs = opts.reactionDelayNs ?? 0;
    this.probeDelayNs = opts.probeDelayNs ?? 0;
    this.rxScribble = opts.rxScribble ?? false;
    this.lateUnmapNs = opts.lateUnmapNs ?? null;
  }

  private get dom0(): Dom0 {
    return this.guest.dom0;
  }

  private get xs(): XenStored {
    return this.guest.xenstore;
  }

  get connected(): boolean {
    return this.queues.length > 0;
  }

  // ---- toolstack (libxl__device_generic_add, libxl_nic) and netback_probe

  // The nodes libxl writes: the frontend directory owned by the guest and
  // readable by dom0, the backend directory owned by dom0 and readable by
  // the guest, both starting in Initialising.
  create(): void {
    const fe = this.frontendPath;
    const be = this.backendPath;
    const home = `/local/domain/${GUEST_DOMID}`;
    for (const dir of [`${home}/device`, `${home}/device/vif`]) this.mkdirWithPerms(dir, ["n0", `r${GUEST_DOMID}`]);
    this.mkdirWithPerms(fe, [`n${GUEST_DOMID}`, "r0"]);
    this.mkdirWithPerms(be, ["n0", `r${GUEST_DOMID}`]);
    const mac = this.xenstoreFault === "mac" ? this.garbage("mac", GARBAGE_MACS, true) : this.mac;
    const mtu = this.xenstoreFault === "mtu" ? this.garbage("mtu", GARBAGE_MTUS, false) : String(this.mtu);
    this.writeAll(fe, { backend: be, "backend-id": "0", state: String(XB.XenbusStateInitialising), handle: String(this.devid), mac, mtu });
    this.writeAll(be, {
      frontend: fe, "frontend-id": String(GUEST_DOMID), online: "1", state: String(XB.XenbusStateInitialising),
      handle: String(this.devid), type: "vif", mac: this.mac, mtu, ...(this.ip !== null ? { ip: this.ip } : {}),
      "hotplug-status": "connected",
    });
  }

  private mkdirWithPerms(path: string, perms: string[]): void {
    if (!this.xs.exists(path)) this.xs.mkdir(path);
    this.xs.setPerms(path, perms);
  }

  private writeAll(dir: string, keys: Record<string, string>): void {
    for (const [key, value] of Object.entries(keys)) this.xs.write(`${dir}/${key}`, value);
  }

  // netback_probe: the features netback advertises, then InitWait and a
  // watch on the frontend's state (which fires once at once, as xenstored's do).
  probe(): void {
    const be = this.backendPath;
    const rxCopy = this.xenstoreFault === "feature-rx-copy" ? this.garbage("feature-rx-copy", GARBAGE_FLAGS, true) : "1";
    const keys: Record<string, string> = { "feature-sg": this.features.sg ? "1" : "0", "feature-rx-flip": "0" };
    if (this.features.gso) keys["feature-gso-tcpv4"] = "1";
    if (this.features.rxCopy) keys["feature-rx-copy"] = rxCopy;
    if (this.features.splitEventChannels) keys["feature-split-event-channels"] = "1";
    if (this.features.maxQueues !== null) keys["multi-queue-max-queues"] = String(this.features.maxQueues);
    this.writeAll(be, keys);
    this.setState(XB.XenbusStateInitWait);
    this.watching = true;
    this.xs.watch(`${this.frontendPath}/state`, this.watchToken, () => {
      if (this.reactionDelayNs > 0) this.dom0.after(this.reactionDelayNs, () => this.frontendChanged());
      else this.frontendChanged();
    });
  }

  // What the toolstack does when the device is removed (or its domain is
  // gone): netback disconnects and the nodes are deleted.
  destroy(): void {
    this.disconnect();
    if (this.watching) this.xs.unwatch(`${this.frontendPath}/state`, this.watchToken);
    this.watching = false;
    for (const dir of [this.backendPath, this.frontendPath]) if (this.xs.exists(dir)) this.xs.rm(dir);
  }

  // `xl network-detach` (libxl__initiate_device_generic_remove): online=0
  // and state=Closing in the backend; the frontend is to close, netback
  // follows its Closed; once the backend is Closed, or after libxl's 10 s
  // timeout (then forced), the nodes are removed. `done` gets whether it
  // had to be forced.
  detach(done?: (forced: boolean) => void): void {
    const started = this.guest.clock.now();
    this.xs.write(`${this.backendPath}/online`, "0");
    this.setState(XB.XenbusStateClosing);
    const poll = () => {
      const closed = this.state === XB.XenbusStateClosed;
      if (closed || this.guest.clock.now() - started >= 10_000_000_000n) {
        this.destroy();
        done?.(!closed);
      } else {
        this.dom0.after(1_000_000n, poll);
      }
    };
    this.dom0.after(1_000_000n, poll);
  }

  // xenbus_dev_fatal from inside netback (e.g. a ring error): the error
  // node and Closing, with the device still online, so a frontend that
  // closes and starts again (Initialising) gets InitWait and reconnects.
  fail(message: string): void {
    this.fatal(message);
  }

  private setState(state: number): void {
    this.state = state;
    this.xs.write(`${this.backendPath}/state`, String(state));
  }

  // ---- the xenbus state machine (netback's frontend_changed / set_backend_state)

  private frontendChanged(): void {
    const fe = this.readUint(this.frontendPath, "state") ?? XB.XenbusStateUnknown;
    switch (fe) {
      case XB.XenbusStateInitialising:
        if (this.state === XB.XenbusStateClosed) this.setState(XB.XenbusStateInitWait);
        break;
      case XB.XenbusStateConnected:
        if (this.state === XB.XenbusStateInitWait) this.connect();
        break;
      case XB.XenbusStateClosing:
        if (this.state !== XB.XenbusStateClosed) this.close(XB.XenbusStateClosing);
        break;
      case XB.XenbusStateClosed:
      case XB.XenbusStateUnknown:
        this.close(XB.XenbusStateClosed);
        break;
      default: // Initialised, Reconfiguring...: nothing to do for a vif
        break;
    }
  }

  private close(state: number): void {
    this.disconnect();
    if (this.state !== state) this.setState(state);
  }

  // xenbus_dev_fatal: the reason goes to error/<backend path>/error in
  // dom0's home, and the backend moves to Closing.
  private fatal(message: string): void {
    this.error = message;
    this.xs.write(`/local/domain/0/error${this.backendPath}/error`, message);
    this.close(XB.XenbusStateClosing);
  }

  // netback's connect(): queues, flags, rings and channels, then Connected.
  private connect(): void {
    const fe = this.frontendPath;
    const max = this.features.maxQueues ?? 1;
    const queues = this.readUint(fe, "multi-queue-num-queues") ?? 1;
    if (queues < 1 || queues > max) return this.fatal(`guest requested ${queues} queues, exceeding the maximum of ${max}`);
    if (this.readUint(fe, "request-rx-copy") !== 1) return this.fatal(`${fe}/request-rx-copy is not 1: only copy mode is supported`);
    const info: FrontendInfo = {
      rxNotify: this.readUint(fe, "feature-rx-notify") === 1,
      sg: this.readUint(fe, "feature-sg") === 1,
      noCsumOffload: this.readUint(fe, "feature-no-csum-offload") === 1,
      queues,
      splitEventChannels: false,
    };
    for (let i = 0; i < queues; i++) {
      const err = this.connectQueue(queues === 1 ? fe : `${fe}/queue-${i}`, info);
      if (err) return this.fatal(err);
    }
    this.frontend = info;
    if (this.lateUnmapNs !== null) this.holdRxBuffer();
    if (this.xenstoreFault === "state-stuck" || this.xenstoreFault === "state-transient") return this.garbleState();
    this.setState(XB.XenbusStateConnected);
  }

  // connect_data_rings: ring refs, then split channels or the single one.
  private connectQueue(dir: string, info: FrontendInfo): string | null {
    const txRef = this.readUint(dir, "tx-ring-ref");
    const rxRef = this.readUint(dir, "rx-ring-ref");
    if (txRef === null || rxRef === null) return `reading ${dir}/ring-ref`;
    const channels = this.readChannels(dir);
    if (!channels) return `reading ${dir}/event-channel(-tx/rx)`;
    const [txPort, rxPort] = channels;
    if (txPort !== rxPort) info.splitEventChannels = true;
    const mappings: GrantMapping[] = [];
    const ports: number[] = [];
    try {
      mappings.push(this.dom0.mapGrant(GUEST_DOMID, txRef));
      mappings.push(this.dom0.mapGrant(GUEST_DOMID, rxRef));
      ports.push(this.dom0.bindInterdomain(GUEST_DOMID, txPort));
      if (rxPort !== txPort) ports.push(this.dom0.bindInterdomain(GUEST_DOMID, rxPort));
    } catch (e) {
      if (!(e instanceof GrantError || e instanceof XenError)) throw e;
      for (const m of mappings) m.unmap();
      for (const p of ports) this.dom0.close(p);
      return `mapping shared-frames ${txRef}/${rxRef} port tx ${txPort} rx ${rxPort}: ${e.message}`;
    }
    const view = () => this.guest.view();
    const q: Queue = {
      tx: new BackRing(view, mappings[0], N.NET_TX_RING_SIZE, N.NETIF_TX_REQUEST_SIZE),
      rx: new BackRing(view, mappings[1], N.NET_RX_RING_SIZE, N.NETIF_RX_REQUEST_SIZE),
      txPort: ports[0], rxPort: ports[ports.length - 1], recentTxIds: [], txFrames: 0, rxFrames: 0, txKicks: 0, rxKicks: 0, lastRxId: -1, dead: false,
    };
    this.queues.push(q);
    this.dom0.onEvent(q.txPort, () => {
      q.txKicks++;
      this.onGuestEvent(q);
    });
    if (q.rxPort !== q.txPort) {
      this.dom0.onEvent(q.rxPort, () => {
        q.rxKicks++;
        this.onGuestEvent(q);
      });
    }
    return null;
  }

  // The guest's ports: split channels first, then the single one.
  private readChannels(dir: string): [number, number] | null {
    const tx = this.readUint(dir, "event-channel-tx");
    const rx = this.readUint(dir, "event-channel-rx");
    if (tx !== null && rx !== null) return [tx, rx];
    const one = this.readUint(dir, "event-channel");
    return one === null ? null : [one, one];
  }

  // lateUnmapNs: maps the buffer of queue 0's first posted RX request.
  private holdRxBuffer(): void {
    const q = this.queues[0];
    const gref = this.guest.view().getUint32(q.rx.slot(q.rx.reqCons) + N.NETIF_RX_REQ_GREF, true);
    this.heldBuffer = this.dom0.mapGrant(GUEST_DOMID, gref);
  }

  // Unmaps both rings of every queue and closes the channels.
  private disconnect(): void {
    const held = this.heldBuffer;
    this.heldBuffer = null;
    if (held && this.lateUnmapNs !== null && this.lateUnmapNs >= 0) this.dom0.after(this.lateUnmapNs, () => held.unmap());
    const queues = this.queues;
    this.queues = [];
    for (const q of queues) {
      for (const port of new Set([q.txPort, q.rxPort])) {
        this.dom0.onEvent(port, null);
        this.dom0.close(port);
      }
      q.tx.unmap();
      q.rx.unmap();
    }
  }

  // A frontend key as xenbus_scanf("%u") would take it (strictly decimal
  // here), or null if absent or malformed.
  private readUint(dir: string, key: string): number | null {
    let text: string;
    try {
      text = this.xs.read(`${dir}/${key}`);
    } catch (e) {
      if (e instanceof XenStoreError) return null;
      throw e;
    }
    return /^\d{1,10}$/.test(text) && Number(text) <= 0xffffffff ? Number(text) : null;
  }

  // ---- the data path

  private onGuestEvent(q: Queue): void {
    this.stats.guestEvents++;
    if (!q.dead) this.serveTx(q);
    this.rxKick?.();
  }

  // Whether inject() would find RX buffers for `frame` now; if not, the
  // guest is asked to kick us when it posts some (as
  // xenvif_rx_ring_slots_available does), and rxKick follows.
  hasRxRoom(frame: Uint8Array, opts: InjectOptions = {}): boolean {
    const o = { ...this.rxDefaults, ...opts };
    const sg = this.frontend?.sg ?? false;
    const q = this.queues.length ? this.queues[(o.queue ?? this.queueFor(frame)) % this.queues.length] : undefined;
    const length = frame.length;
    if (!q || q.dead || q.rx.poisoned) return false;
    const slotSize = sg ? Math.max(1, Math.min(PAGE_SIZE, o.slotSize ?? PAGE_SIZE)) : PAGE_SIZE;
    const needed = Math.ceil(length / slotSize) + (sg ? o.extras ?? 0 : 0);
    const n = q.rx.unconsumed();
    return n >= needed || (q.rx.finalCheck() && q.rx.unconsumed() >= needed);
  }

  private notify(port: number): void {
    this.stats.notifications++;
    this.dom0.send(port);
  }

  // Publishes the responses written so far. A poisoned ring publishes its
  // fault and always notifies: the frontend is to find it, not to miss it.
  private push(ring: BackRing, port: number): void {
    if (ring.poisoned) {
      ring.push(ring.jump);
      this.notify(port);
    } else if (ring.push()) {
      this.notify(port);
    }
  }

  // Drains the TX ring, answers every request, then hands the frames on
  // (after the ring work, so a `deliver` that injects a reply is no problem).
  private serveTx(q: Queue): void {
    const frames: Uint8Array[] = [];
    for (;;) {
      let n = 0;
      while (!q.tx.poisoned && (n = q.tx.unconsumed()) > 0 && !q.dead) this.txFrame(q, n, frames);
      if (n < 0) this.fatalRing(q, "TX: impossible number of requests");
      if (q.dead) break;
      this.push(q.tx, q.txPort);
      if (q.tx.poisoned || !q.tx.finalCheck()) break;
    }
    for (const f of frames) this.deliver?.(f);
  }

  // xenvif_fatal_tx_err: the frontend broke the protocol; the queue is
  // switched off until it reconnects.
  private fatalRing(q: Queue, why: string): void {
    q.dead = true;
    this.error ??= why;
  }

  private readTx(q: Queue, index: number): TxRequest {
    const v = this.guest.view();
    const at = q.tx.slot(index);
    return {
      gref: v.getUint32(at + N.NETIF_TX_REQ_GREF, true),
      offset: v.getUint16(at + N.NETIF_TX_REQ_OFFSET, true),
      flags: v.getUint16(at + N.NETIF_TX_REQ_FLAGS, true),
      id: v.getUint16(at + N.NETIF_TX_REQ_ID, true),
      size: v.getUint16(at + N.NETIF_TX_REQ_SIZE, true),
    };
  }

  // One frame: its first slot, extra-info slots, then more_data fragments
  // (netif.h "Guest transmit"); a frame must be published whole.
  private txFrame(q: Queue, available: number, frames: Uint8Array[]): void {
    const first = this.readTx(q, q.tx.reqCons);
    let used = 1;
    let extras = 0;
    let gsoSize = 0;
    for (let more = (first.flags & N.NETTXF_extra_info) !== 0; more; extras++, used++) {
      if (used >= available) return this.fatalRing(q, "TX: an extra-info slot is missing");
      const v = this.guest.view(), x = q.tx.slot(q.tx.reqCons + used);
      more = (v.getUint8(x + N.NETIF_EXTRA_FLAGS) & N.XEN_NETIF_EXTRA_FLAG_MORE) !== 0;
      if (v.getUint8(x + N.NETIF_EXTRA_TYPE) === N.XEN_NETIF_EXTRA_TYPE_GSO && v.getUint8(x + N.NETIF_EXTRA_GSO_TYPE) === N.XEN_NETIF_GSO_TYPE_TCPV4) {
        gsoSize = v.getUint16(x + N.NETIF_EXTRA_GSO_SIZE, true);
      }
    }
    const frags: TxRequest[] = [];
    for (let last = first; last.flags & N.NETTXF_more_data; used++) {
      if (used >= available || frags.length + 1 >= XEN_NETIF_NR_SLOTS_MIN) return this.fatalRing(q, "TX: a frame's slots are missing or too many");
      last = this.readTx(q, q.tx.reqCons + used);
      frags.push(last);
    }
    q.tx.reqCons = u32(q.tx.reqCons + used);
    q.recentTxIds.push(first.id, ...frags.map((f) => f.id));
    q.recentTxIds.splice(0, Math.max(0, q.recentTxIds.length - N.NET_TX_RING_SIZE));
    // A GSO extra (if we offered feature-gso-tcpv4 and feature-sg) is the
    // only extra info we take; any other frame with extras is refused.
    const gso = extras === 1 && gsoSize > 0 && this.features.gso && this.features.sg;
    const frame = extras > 0 && !gso ? null : this.copyTxFrame(first, frags);
    let status = frame ? N.NETIF_RSP_OKAY : N.NETIF_RSP_ERROR;
    status = this.respondTx(q, first.id, status, extras);
    for (const f of frags) this.respondTx(q, f.id, status === N.NETIF_RSP_OKAY ? status : N.NETIF_RSP_ERROR, 0);
    if (frame && status === N.NETIF_RSP_OKAY && !q.tx.poisoned) {
      this.stats.txFrames++;
      q.txFrames++;
      if (gso) {
        // What Linux does to a GSO skb bound for a peer that cannot take it whole.
        const segments = segmentTcp(frame, gsoSize);
        if (!segments) { this.stats.txErrors++; return; }
        this.stats.txGso++;
        frames.push(...segments);
      } else {
        frames.push(frame);
      }
    } else if (status !== N.NETIF_RSP_OKAY) {
      this.stats.txErrors++;
    }
  }

  // The frame's bytes, or null if a slot is invalid or its grant cannot be
  // copied (xenvif_tx_build_gops: the first slot's size is the whole frame).
  private copyTxFrame(first: TxRequest, frags: TxRequest[]): Uint8Array | null {
    const fragBytes = frags.reduce((n, f) => n + f.size, 0);
    if (first.size < ETH_HLEN || fragBytes > first.size) return null;
    const pieces = [{ ...first, size: first.size - fragBytes }, ...frags];
    if (pieces.some((p) => p.offset + p.size > PAGE_SIZE)) return null;
    const frame = new Uint8Array(first.size);
    let at = 0;
    try {
      for (const p of pieces) {
        frame.set(this.dom0.copyFromGrant(GUEST_DOMID, p.gref, p.offset, p.size), at);
        at += p.size;
      }
    } catch (e) {
      if (e instanceof GrantError) return null;
      throw e;
    }
    return frame;
  }

  // make_tx_response: the response, then a NETIF_RSP_NULL per extra slot.
  // Returns the status written (a hostile fault may change it).
  private respondTx(q: Queue, id: number, status: number, nulls: number): number {
    if (q.tx.poisoned) return N.NETIF_RSP_ERROR; // after a violation we answer nothing more
    const rsp = { id, status };
    const fault = this.hostile?.ringFault("tx") ?? null;
    if (fault) this.txFault(q, fault, rsp);
    this.writeTxResponse(q, rsp.id, rsp.status);
    for (let i = 0; i < nulls; i++) this.writeTxResponse(q, 0, N.NETIF_RSP_NULL);
    // duplicate-id with nothing earlier in the batch: the same response twice.
    if (fault === "duplicate-id" && rsp.id === id) this.writeTxResponse(q, rsp.id, rsp.status);
    q.tx.batch.push(rsp.id);
    return rsp.status;
  }

  private writeTxResponse(q: Queue, id: number, status: number): void {
    const v = this.guest.view();
    const at = q.tx.slot(q.tx.rspProdPvt);
    v.setUint16(at + N.NETIF_TX_RSP_ID, id, true);
    v.setInt16(at + N.NETIF_TX_RSP_STATUS, status, true);
    q.tx.rspProdPvt = u32(q.tx.rspProdPvt + 1);
  }

  // ---- RX

  // Copies one frame into the guest's next posted RX buffer(s) (see
  // InjectOptions; this.rxDefaults fill in what `opts` leaves out). Returns
  // false (and counts a drop) if the guest has posted too few or cannot take it.
  inject(frame: Uint8Array, opts: InjectOptions = {}): boolean {
    const o = { ...this.rxDefaults, ...opts };
    const sg = this.frontend?.sg ?? false;
    const q = this.queues.length ? this.queues[(o.queue ?? this.queueFor(frame)) % this.queues.length] : undefined;
    const max = o.unchecked ? (sg ? N.XEN_NETIF_MAX_TX_SIZE : PAGE_SIZE) : sg ? ETH_HLEN + this.mtu : Math.min(PAGE_SIZE, ETH_HLEN + this.mtu);
    if (!q || q.dead || q.rx.poisoned || frame.length === 0 || frame.length > max) {
      this.stats.rxDropped++;
      return false;
    }
    const slotSize = sg ? Math.max(1, Math.min(PAGE_SIZE, o.slotSize ?? PAGE_SIZE)) : PAGE_SIZE;
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < frame.length; at += slotSize) chunks.push(frame.subarray(at, at + slotSize));
    const extras = sg ? o.extras ?? 0 : 0;
    const needed = chunks.length + extras;
    const n = q.rx.unconsumed();
    if (n < 0) this.fatalRing(q, "RX: impossible number of requests");
    // Too few buffers: ask to be kicked when one is posted (xenvif_rx_ring_slots_available), and drop.
    if (n < 0 || (n < needed && (!q.rx.finalCheck() || q.rx.unconsumed() < needed))) {
      this.stats.rxDropped++;
      return false;
    }
    return this.rxFrame(q, frame.length, chunks, extras, o);
  }

  // Writes RX responses exactly as given, one slot each (data copied to
  // offset 0 of the slot's buffer, flags as given), published together on
  // queue 0: for backends that break the rules (e.g. more_data without
  // feature-sg). Returns false if the guest posted too few buffers.
  injectSlots(slots: { data: Uint8Array; flags: number }[]): boolean {
    const q = this.queues[0];
    if (!q || q.rx.unconsumed() < slots.length) return false;
    for (const s of slots) {
      const req = this.nextRxRequest(q);
      this.writeRxResponse(q, { id: req.id, offset: 0, flags: s.flags, status: this.copyChunk(req.gref, s.data) });
    }
    this.push(q.rx, q.rxPort);
    return true;
  }

  // netback's queue for a frame: a hash of the IPv4 addresses and the
  // UDP/TCP ports (whatever is there), 0 for anything else.
  private queueFor(frame: Uint8Array): number {
    if (this.queues.length < 2 || frame.length < ETH_HLEN + 20 || frame[12] !== 0x08 || frame[13] !== 0) return 0;
    let h = 0;
    for (let i = ETH_HLEN + 12; i < Math.min(frame.length, ETH_HLEN + 24); i++) h = (Math.imul(h, 31) + frame[i]) >>> 0;
    return ((h ^ (h >>> 16)) >>> 0) % this.queues.length;
  }

  // Takes the next RX request: its id and grant.
  private nextRxRequest(q: Queue): { id: number; gref: number } {
    const v = this.guest.view();
    const req = q.rx.slot(q.rx.reqCons);
    q.rx.reqCons = u32(q.rx.reqCons + 1);
    return { id: v.getUint16(req + N.NETIF_RX_REQ_ID, true), gref: v.getUint32(req + N.NETIF_RX_REQ_GREF, true) };
  }

  // Copies a chunk into a request's buffer: its length, or NETIF_RSP_ERROR.
  private copyChunk(gref: number, chunk: Uint8Array): number {
    try {
      this.dom0.copyToGrant(GUEST_DOMID, gref, 0, chunk);
      return chunk.length;
    } catch (e) {
      if (!(e instanceof GrantError)) throw e;
      return N.NETIF_RSP_ERROR;
    }
  }

  private writeRxResponse(q: Queue, rsp: { id: number; offset: number; flags: number; status: number }): void {
    // The response goes in its request's slot (netif.h: frontends rely on it).
    const v = this.guest.view();
    const at = q.rx.slot(q.rx.rspProdPvt);
    v.setUint16(at + N.NETIF_RX_RSP_ID, rsp.id, true);
    v.setUint16(at + N.NETIF_RX_RSP_OFFSET, rsp.offset, true);
    v.setUint16(at + N.NETIF_RX_RSP_FLAGS, rsp.flags, true);
    v.setInt16(at + N.NETIF_RX_RSP_STATUS, rsp.status, true);
    q.rx.rspProdPvt = u32(q.rx.rspProdPvt + 1);
  }

  // The first data slot, `extras` extra-info slots, the other data slots;
  // then one push for the whole frame.
  private rxFrame(q: Queue, length: number, chunks: Uint8Array[], extras: number, o: InjectOptions): boolean {
    const v = this.guest.view();
    const sg = this.frontend?.sg ?? false;
    const first = this.nextRxRequest(q);
    const grefs = [first.gref];
    const more = (chunks.length > 1 ? N.NETRXF_more_data : 0) | (extras > 0 ? N.NETRXF_extra_info : 0);
    const rsp = { id: first.id, offset: 0, flags: (o.flags ?? 0) | more, status: this.copyChunk(first.gref, chunks[0]) };
    const copyFailed = rsp.status < 0;
    let failures = copyFailed ? 1 : 0;
    const fault = this.hostile?.ringFault("rx") ?? null;
    if (fault && fault !== "chain-open") this.rxFault(q, fault, rsp);
    if (fault === "chain-open" && chunks.length === 1 && extras === 0) this.openChain(q, rsp, sg);
    this.writeRxResponse(q, rsp);
    q.lastRxId = rsp.id;
    if (!q.rx.poisoned) {
      for (let i = 0; i < extras; i++) {
        this.nextRxRequest(q); // its buffer is used up, unwritten
        const at = q.rx.slot(q.rx.rspProdPvt);
        for (let b = 0; b < N.NETIF_EXTRA_INFO_SIZE; b++) v.setUint8(at + b, 0);
        v.setUint8(at + N.NETIF_EXTRA_TYPE, o.extraType ?? N.XEN_NETIF_EXTRA_TYPE_GSO);
        v.setUint8(at + N.NETIF_EXTRA_FLAGS, i + 1 < extras ? N.XEN_NETIF_EXTRA_FLAG_MORE : 0);
        q.rx.rspProdPvt = u32(q.rx.rspProdPvt + 1);
      }
      for (let c = 1; c < chunks.length; c++) {
        const req = this.nextRxRequest(q);
        grefs.push(req.gref);
        const part = { id: req.id, offset: 0, flags: c + 1 < chunks.length ? N.NETRXF_more_data : 0, status: this.copyChunk(req.gref, chunks[c]) };
        if (part.status < 0) failures++;
        if (fault === "chain-open" && c + 1 === chunks.length) this.openChain(q, part, true);
        this.writeRxResponse(q, part);
        q.lastRxId = req.id;
      }
    }
    this.push(q.rx, q.rxPort);
    if (this.rxScribble) this.scribbleLater(grefs);
    const ok = failures === 0 && rsp.status === chunks[0].length && rsp.flags === ((o.flags ?? 0) | more) && !q.rx.poisoned && length <= this.guestRxMax();
    if (ok) {
      this.stats.rxFrames++;
      q.rxFrames++;
    } else if (failures > 0 && fault === null) this.stats.rxErrors++;
    else this.stats.rxDropped++;
    return ok;
  }

  // rxScribble: garbage into buffers already answered, at dom0's next turn
  // (while the guest may still be reading the frame).
  private scribbleLater(grefs: number[]): void {
    this.dom0.after(0, () => {
      for (const gref of grefs) {
        try {
          this.dom0.copyToGrant(GUEST_DOMID, gref, 0, new Uint8Array(64).fill(0xee));
          this.stats.scribbles++;
        } catch (e) {
          if (!(e instanceof GrantError)) throw e;
          this.stats.scribblesRefused++;
        }
      }
    });
  }

  // The longest frame netfront reassembles (drivers/netfront.ts rxMax).
  private guestRxMax(): number {
    return this.frontend?.sg ? Math.max(ETH_HLEN + this.mtu, PAGE_SIZE) : PAGE_SIZE;
  }

  // chain-open: the frame's last slot says more follows, and nothing does
  // (without feature-sg, the extra_info flag on a lone slot says the same).
  private openChain(q: Queue, rsp: { flags: number }, dataOnly: boolean): void {
    const extra = !dataOnly && this.hostile!.rng.next() < 0.5;
    rsp.flags |= extra ? N.NETRXF_extra_info : N.NETRXF_more_data;
    this.violate(q.rx, "chain-open", `RX ${extra ? "extra_info" : "more_data"} on the last slot of a frame`);
  }

  // ---- hostile faults

  private record(kind: HostileKind, detail: string, violation: boolean): void {
    this.faults.push({ kind, detail, violation });
  }

  // A violation: recorded, and the ring left as the frontend will find it
  // (poisoned: nothing more is written to it, so nothing covers it up).
  private violate(ring: BackRing, kind: HostileKind, detail: string): void {
    this.record(kind, detail, true);
    ring.poisoned = true;
  }

  // rsp_prod will be published more than a whole ring past our last
  // response: past anything a frontend can have outstanding.
  private jump(ring: BackRing): void {
    ring.jump = ring.size + this.hostile!.rng.int(1, 1000);
    this.violate(ring, "producer-jump", `rsp_prod published ${ring.jump} past the last response`);
  }

  private txFault(q: Queue, kind: HostileKind, rsp: { id: number; status: number }): void {
    const rng = this.hostile!.rng;
    const id = rsp.id;
    switch (kind) {
      case "bad-id": {
        // Any id not in the last ring's worth of requests cannot be in flight.
        const unused = [...Array(N.NET_TX_RING_SIZE).keys()].filter((i) => !q.recentTxIds.includes(i));
        rsp.id = unused.length ? rng.pick(unused) : rng.int(N.NET_TX_RING_SIZE, 0xffff);
        return this.violate(q.tx, kind, `TX response id ${rsp.id} (not in flight) for request id ${id}`);
      }
      case "duplicate-id":
        // An id answered earlier in this batch, else the same answer twice.
        if (q.tx.batch.length > 0) rsp.id = rng.pick(q.tx.batch);
        return this.violate(q.tx, kind, `TX response id ${rsp.id} ${rsp.id === id ? "given twice" : "answered earlier in the batch"}, for request id ${id}`);
      case "id-out-of-range":
        rsp.id = rng.int(N.NET_TX_RING_SIZE, 0xffff);
        return this.violate(q.tx, kind, `TX response id ${rsp.id} for request id ${id}`);
      case "producer-jump":
        return this.jump(q.tx);
      case "bad-status":
        rsp.status = rng.pick([N.NETIF_RSP_ERROR, N.NETIF_RSP_DROPPED, rng.int(-32768, -3)]);
        return this.record(kind, `TX status ${rsp.status} for id ${id}`, false);
      case "event-storm":
        return this.storm(q.txPort);
      default:
        return;
    }
  }

  private rxFault(q: Queue, kind: HostileKind, rsp: { id: number; offset: number; flags: number; status: number }): void {
    const rng = this.hostile!.rng;
    const posted = rsp.id;
    switch (kind) {
      case "bad-id":
        rsp.id = (posted + rng.int(1, 0xfffe)) & 0xffff;
        return this.violate(q.rx, kind, `RX response id ${rsp.id} in the slot of request id ${posted}`);
      case "duplicate-id":
        rsp.id = q.lastRxId >= 0 && q.lastRxId !== posted ? q.lastRxId : posted ^ 1;
        return this.violate(q.rx, kind, `RX response id ${rsp.id} (the previous response's) in the slot of request id ${posted}`);
      case "id-out-of-range":
        rsp.id = rng.int(N.NET_RX_RING_SIZE, 0xffff);
        return this.violate(q.rx, kind, `RX response id ${rsp.id} in the slot of request id ${posted}`);
      case "producer-jump":
        return this.jump(q.rx);
      case "bad-offset":
        rsp.status = Math.max(rsp.status, 1);
        rsp.offset = rng.int(PAGE_SIZE - rsp.status + 1, 0xffff);
        return this.violate(q.rx, kind, `RX offset ${rsp.offset} + size ${rsp.status} runs past the page`);
      case "bad-size":
        rsp.status = rng.int(PAGE_SIZE + 1, 0x7fff);
        return this.violate(q.rx, kind, `RX size ${rsp.status}`);
      case "bad-status":
        rsp.status = rng.pick([N.NETIF_RSP_ERROR, N.NETIF_RSP_DROPPED, 0, rng.int(-32768, -3)]);
        return this.record(kind, `RX status ${rsp.status} for id ${posted}`, false);
      case "event-storm":
        return this.storm(q.rxPort);
      default:
        return;
    }
  }

  // Spurious notifications, spread out so that each one wakes the guest.
  private storm(port: number): void {
    const count = this.hostile!.rng.int(10, 100);
    this.record("event-storm", `${count} spurious events on port ${port}`, false);
    for (let i = 1; i <= count; i++) {
      this.dom0.after(EVENT_STORM_SPACING_NS * BigInt(i), () => {
        if (this.queues.some((q) => q.txPort === port || q.rxPort === port)) this.notify(port);
      });
    }
  }

  private garbage(key: string, choices: readonly string[], violation: boolean): string {
    const value = this.hostile!.rng.pick(choices);
    this.record("xenstore-garbage", `${key} = ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "..." : value)}`, violation);
    return value;
  }

  // The backend is connected but its state key says something else: for
  // good (the frontend must give up), or for 1 ms (it must wait it out).
  private garbleState(): void {
    const stuck = this.xenstoreFault === "state-stuck";
    const value = this.garbage(stuck ? "state (for good)" : "state (for 1 ms)", GARBAGE_STATES, stuck);
    this.state = XB.XenbusStateConnected;
    this.xs.write(`${this.backendPath}/state`, value);
    if (stuck) return;
    this.dom0.after(1_000_000n, () => {
      if (this.connected) this.setState(XB.XenbusStateConnected);
    });
  }

  // ---- for tests

  ringIndices(queue = 0): { tx: RingIndices; rx: RingIndices } | null {
    const q = this.queues[queue];
    return q ? { tx: q.tx.indices(), rx: q.rx.indices() } : null;
  }

  // Per queue: frames each way and the ports.
  queueStats(): QueueStats[] {
    return this.queues.map((q) => ({ txFrames: q.txFrames, rxFrames: q.rxFrames, txKicks: q.txKicks, rxKicks: q.rxKicks, txPort: q.txPort, rxPort: q.rxPort }));
  }

  // The backend's own view of the rings (what it consumed and produced).
  backIndices(queue = 0): { tx: { reqCons: number; rspProdPvt: number }; rx: { reqCons: number; rspProdPvt: number } } | null {
    const q = this.queues[queue];
    return q ? { tx: { reqCons: q.tx.reqCons, rspProdPvt: q.tx.rspProdPvt }, rx: { reqCons: q.rx.reqCons, rspProdPvt: q.rx.rspProdPvt } } : null;
  }
}

// The toolstack's part of `xl network-attach` / a vif= line: creates the
// device's xenstore nodes, and the backend starts (probe, InitWait).
export function addVif(guest: SimGuest, opts: VifOptions = {}): Vif {
  const vif = new Vif(guest, opts);
  vif.create();
  if (vif.probeDelayNs > 0) guest.dom0.after(vif.probeDelayNs, () => vif.probe());
  else vif.probe();
  return vif;
}
