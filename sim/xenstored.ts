// The sim's xenstored: the xenstore database and protocol that guests reach
// over their shared ring page (xen/include/public/io/xs_wire.h), with the
// semantics of Xen's C xenstored (docs/misc/xenstore.txt; tools/xenstored/
// core.c, watch.c, transaction.c, domain.c). dom0 (the sim's toolstack and
// backends) uses the same store through direct calls.
//
// Where the sim differs from xenstored, on purpose:
//  - transactions work on a copy of the whole store taken at start, as
//    xenstore.txt describes, and commit fails (EAGAIN) when any node the
//    transaction looked at or changed was changed by someone else since;
//  - quota limits are inclusive maxima (xenstored refuses at `>= quota`);
//  - there are no optional features (watch depth, DOMID_ANY, reconnect,
//    GET/SET_FEATURE, GET/SET_QUOTA), no write rate limiting, and no memory
//    quota on queued watch events.
import * as XS from "../runtime/abi/xs_wire.ts";
import { type RingAccess, advertiseFeatures, putResponseBytes, takeRequestBytes } from "./xs-ring.ts";

export type { RingAccess } from "./xs-ring.ts";

// The errno names xenstored sends in XS_ERROR replies (xsd_errors[] in xs_wire.h).
export type XsErrno =
  | "EINVAL" | "EACCES" | "EEXIST" | "EISDIR" | "ENOENT" | "ENOMEM" | "ENOSPC" | "EIO"
  | "ENOTEMPTY" | "ENOSYS" | "EROFS" | "EBUSY" | "EAGAIN" | "EISCONN" | "E2BIG" | "EPERM";

export class XenStoreError extends Error {
  constructor(readonly code: XsErrno, detail?: string) {
    super(detail === undefined ? code : `${code}: ${detail}`);
    this.name = "XenStoreError";
  }
}

export interface XenStoredOptions {
  maxRequestsPerDomain?: number;      // replies queued but not yet in the guest's ring before xenstored stops reading requests
  maxWatchesPerDomain?: number;
  maxTransactionsPerDomain?: number;
}

// xenstored's other default per-domain quotas (domain.c), for unprivileged domains.
const MAX_NODES_PER_DOMAIN = 1000;
const MAX_NODE_SIZE = 2048;           // bytes, counted as calc_node_acc_size() does
const MAX_PERMS = 5;

// Permission bits, as xenstored's XS_PERM_* (the wire uses letters).
const READ = 1;
const WRITE = 2;
const OWNER = 4;
const LETTERS = [XS.XS_PERM_NONE, XS.XS_PERM_READ, XS.XS_PERM_WRITE, XS.XS_PERM_BOTH]; // indexed by READ|WRITE

interface Perm {
  readonly domid: number;
  readonly access: number;            // READ | WRITE bits
}

// Nodes are immutable: every change stores a new object, so a transaction
// can tell that a node changed under it by identity alone.
interface NodeData {
  readonly value: Uint8Array;
  readonly children: readonly string[];
  readonly perms: readonly Perm[];    // [0]: owner and everyone's default access
}
interface Node extends NodeData {
  readonly gen: number;               // store-wide change counter, as xenstored's generation (DIRECTORY_PART)
}

type Match = "exact" | "subtree";
const EMPTY = new Uint8Array(0);
const HEADER = XS.XSD_SOCKMSG_SIZE;
const SPECIAL = ["@introduceDomain", "@releaseDomain"];

const domainPath = (domid: number) => `/local/domain/${domid}`;
const DOMAIN_PREFIX = /^\/local\/domain\/\d{1,5}\//;
const PATH_CHARS = /^[A-Za-z0-9\/_@-]+$/;

function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

const childPath = (path: string, name: string) => (path === "/" ? `/${name}` : `${path}/${name}`);

// xenstore.txt: <child> is a child of <parent> if identical, if <parent> is
// "/", or if "<parent>/" is a prefix of it. Special (@) paths are never
// children of "/".
function isChild(path: string, parent: string): boolean {
  if (parent === "/") return path.startsWith("/");
  return path === parent || path.startsWith(parent + "/");
}

function accessFor(domid: number, privileged: boolean, perms: readonly Perm[]): number {
  if (privileged || perms[0].domid === domid) return READ | WRITE | OWNER;
  for (let i = 1; i < perms.length; i++) if (perms[i].domid === domid) return perms[i].access;
  return perms[0].access;
}

function nodeSize(node: NodeData): number {
  const children = node.children.reduce((sum, name) => sum + name.length + 1, 0);
  return 16 + 8 * node.perms.length + node.value.length + children; // node_hdr + xs_permissions[] + data + names
}

function parseDomid(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new XenStoreError("EINVAL", `bad domid '${text}'`);
  return Number(text);
}

function parsePerm(text: string): Perm {
  const access = LETTERS.indexOf(text[0]);
  if (access < 0) throw new XenStoreError("EINVAL", `bad permission '${text}'`);
  return { domid: parseDomid(text.slice(1)), access };
}

const permText = (p: Perm) => `${LETTERS[p.access]}${p.domid}`;

// ---- payload encoding: strings on the wire are bytes; latin1 keeps them byte for byte.

const text = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
const cstrings = (...strings: string[]) => new Uint8Array(Buffer.from(strings.map((s) => s + "\0").join(""), "latin1"));

// A payload that must be one string and its NUL, nothing else (onearg()).
function oneArg(payload: Uint8Array): string {
  if (payload.length === 0 || payload.indexOf(0) !== payload.length - 1) throw new XenStoreError("EINVAL", "expected one string");
  return text(payload.subarray(0, -1));
}

// The NUL-terminated strings of a payload; bytes after the last NUL are
// ignored, as get_strings() does.
function args(payload: Uint8Array): string[] {
  const out: string[] = [];
  for (let at = 0, nul; (nul = payload.indexOf(0, at)) >= 0; at = nul + 1) out.push(text(payload.subarray(at, nul)));
  return out;
}

function message(type: number, reqId: number, txId: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(HEADER + payload.length);
  const v = new DataView(bytes.buffer);
  v.setUint32(XS.XSD_SOCKMSG_TYPE, type, true);
  v.setUint32(XS.XSD_SOCKMSG_REQ_ID, reqId, true);
  v.setUint32(XS.XSD_SOCKMSG_TX_ID, txId, true);
  v.setUint32(XS.XSD_SOCKMSG_LEN, payload.length, true);
  bytes.set(payload, HEADER);
  return bytes;
}

// ---- the tree as one caller sees it: the store itself, or a transaction's copy

class View {
  constructor(readonly nodes: Map<string, Node>, private readonly clock: () => number, private readonly tx?: Transaction) {}

  get(path: string): Node | undefined {
    this.tx?.touch(path);
    return this.nodes.get(path);
  }

  put(path: string, node: NodeData): void {
    this.tx?.touch(path);
    this.nodes.set(path, { value: node.value, children: node.children, perms: node.perms, gen: this.clock() });
  }

  remove(path: string): void {
    this.tx?.touch(path);
    this.nodes.delete(path);
  }
}

class Transaction {
  readonly nodes: Map<string, Node>;
  readonly view: View;
  // Every path the transaction looked at or changed -> the node it found
  // there first (the store's node at start: the copy shares its objects).
  readonly seen = new Map<string, Node | undefined>();
  // Watch events, fired when the transaction commits; a subtree event
  // replaces an exact one for the same path, as queue_watches() does.
  readonly events = new Map<string, Match>();

  constructor(readonly id: number, store: Map<string, Node>, clock: () => number) {
    this.nodes = new Map(store);
    this.view = new View(this.nodes, clock, this);
  }

  touch(path: string): void {
    if (!this.seen.has(path)) this.seen.set(path, this.nodes.get(path));
  }

  queue(path: string, match: Match): void {
    if (match === "subtree" || !this.events.has(path)) this.events.set(path, match);
  }
}

interface Watch {
  path: string;                       // canonical (absolute or @special)
  token: string;
  relative: boolean;                  // events drop the "/local/domain/<domid>/" prefix again
}
interface LocalWatch extends Watch {
  cb: (path: string, token: string) => void;
}

// A guest's connection: its ring, watches, transactions and message buffers.
class Connection {
  watches: Watch[] = [];
  readonly txs = new Map<number, Transaction>();
  nextTx = 1;
  broken: string | false = false;     // why the connection was dropped
  readonly input = new Uint8Array(HEADER + XS.XENSTORE_PAYLOAD_MAX);
  inUsed = 0;
  out: { bytes: Uint8Array; reply: boolean }[] = [];
  outSent = 0;                        // bytes of out[0] already in the ring
  pumping = false;
  again = false;

  constructor(readonly domid: number, readonly ring: RingAccess, readonly notify: () => void) {}

  get privileged(): boolean {
    return this.domid === 0;
  }

  outstanding(): number {
    return this.out.filter((m) => m.reply).length;
  }
}

// Who is asking: a guest connection (maybe inside a transaction) or dom0's direct API.
interface Caller {
  domid: number;
  privileged: boolean;
  tx?: Transaction;
}
const DOM0: Caller = { domid: 0, privileged: true };

interface Reply {
  type?: number;                      // default: the request's type
  payload: Uint8Array;
  after?: () => void;                 // runs once the reply is queued (a watch's first event follows its OK)
}
interface Op {
  run(conn: Connection, c: Caller, payload: Uint8Array): Reply;
  privileged?: boolean;               // XS_FLAG_PRIV: unprivileged callers get EACCES
  noTx?: boolean;                     // XS_FLAG_NOTID: tx_id is ignored
}

const OK: Reply = { payload: cstrings("OK") };

export class XenStored {
  private readonly nodes = new Map<string, Node>();
  private readonly store: View;
  private generation = 0;
  private readonly conns = new Map<number, Connection>();
  private readonly localWatches: LocalWatch[] = [];
  private readonly localEvents: { cb: LocalWatch["cb"]; path: string; token: string }[] = [];
  private readonly dirty = new Set<Connection>();
  private depth = 0;
  private readonly limits: Required<XenStoredOptions>;
  private readonly ops: Map<number, Op>;
  // For tests: called after each guest request has been answered (the
  // reply queued, not yet in the ring), with its type and its strings.
  onRequest: ((domid: number, type: number, args: string[]) => void) | null = null;

  constructor(opts: XenStoredOptions = {}) {
    this.limits = { maxRequestsPerDomain: 20, maxWatchesPerDomain: 128, maxTransactionsPerDomain: 10, ...opts };
    this.store = new View(this.nodes, () => ++this.generation);
    // setup_structure(): the root, /tool/xenstored and the special watch nodes, all dom0's.
    const base: [string, string[]][] = [["/", ["tool"]], ["/tool", ["xenstored"]], ["/tool/xenstored", []], ...SPECIAL.map((p): [string, string[]] => [p, []])];
    for (const [path, children] of base) this.store.put(path, { value: EMPTY, children, perms: [{ domid: 0, access: 0 }] });
    this.ops = this.wireOps();
  }

  // ---- dom0's direct API

  read(path: string): string {
    return this.run(() => Buffer.from(this.readOp(DOM0, path)).toString("utf8"));
  }
  write(path: string, value: string): void {
    this.run(() => this.writeOp(DOM0, path, new Uint8Array(Buffer.from(value, "utf8"))));
  }
  mkdir(path: string): void {
    this.run(() => this.mkdirOp(DOM0, path));
  }
  rm(path: string): void {
    this.run(() => this.rmOp(DOM0, path));
  }
  directory(path: string): string[] {
    return this.run(() => [...this.directoryOp(DOM0, path)]);
  }
  exists(path: string): boolean {
    return this.run(() => this.find(DOM0, this.store, this.canonical(DOM0, path).path, READ) !== undefined);
  }
  getPerms(path: string): string[] {
    return this.run(() => this.getPermsOp(DOM0, path).map(permText));
  }
  setPerms(path: string, perms: string[]): void {
    this.run(() => this.setPermsOp(DOM0, path, perms.map(parsePerm)));
  }
  watch(path: string, token: string, cb: (path: string, token: string) => void): void {
    this.run(() => {
      const watch = { ...this.newWatch(DOM0, this.localWatches, path, token), cb };
      this.localWatches.push(watch);
      this.localEvents.push({ cb, path: this.eventPath(DOM0.domid, watch, watch.path), token });
    });
  }
  unwatch(path: string, token: string): void {
    this.run(() => {
      const at = this.findWatch(DOM0, this.localWatches, path, token);
      this.localWatches.splice(at, 1);
    });
  }

  // ---- guest connections

  // What the toolstack and XS_INTRODUCE do together: the domain gets a home
  // it owns (libxl makes it dom0's and only readable by the domain; the sim
  // lets the guest write there), and @introduceDomain fires.
  introduceDomain(domid: number, ring: RingAccess, notify: () => void): void {
    this.run(() => {
      parseDomid(String(domid));
      if (this.conns.has(domid)) throw new XenStoreError("EEXIST", `domain ${domid} is already introduced`);
      advertiseFeatures(ring, 0);
      this.conns.set(domid, new Connection(domid, ring, notify));
      const home = domainPath(domid);
      const old = this.nodes.get(home);
      if (!old) this.create(DOM0, this.store, home, EMPTY);
      const node = this.nodes.get(home)!;
      if (node.perms[0].domid !== domid) this.store.put(home, { ...node, perms: [{ domid, access: 0 }] });
      if (this.nodes.get(home) !== old) this.changed(DOM0, home, "subtree", old ? [old.perms] : []);
      if (domid !== 0) this.fireSpecial("@introduceDomain", domid);
    });
  }

  // As xenstored when a domain goes away: its watches and transactions go,
  // nodes it owns are deleted (with their subtrees), its entries in other
  // nodes' permissions are dropped (so a later domain with the same id
  // inherits nothing), and @releaseDomain fires.
  releaseDomain(domid: number): void {
    this.run(() => {
      const conn = this.conns.get(domid);
      if (!conn) throw new XenStoreError("ENOENT", `domain ${domid} is not introduced`);
      this.conns.delete(domid);
      this.dirty.delete(conn);
      // dom0 owns the store's own nodes: it is never orphaned.
      if (domid !== 0) for (const path of ["/", ...SPECIAL]) this.dropOrphans(domid, path);
      this.fireSpecial("@releaseDomain", domid);
    });
  }

  // The guest notified its store event channel.
  onGuestEvent(domid: number): void {
    this.run(() => {
      const conn = this.conns.get(domid);
      if (conn) this.pump(conn);
    });
  }

  // The connection was dropped for a protocol violation (as ignore_connection()).
  isBroken(domid: number): boolean {
    return Boolean(this.conns.get(domid)?.broken);
  }

  // ---- operations, shared by the wire and dom0's API

  private viewOf(c: Caller): View {
    return c.tx?.view ?? this.store;
  }

  // canonicalize(): allowed characters, relative paths under the caller's
  // home, no trailing or doubled slash, length limits (the relative limit
  // applies to what follows any /local/domain/<id>/, for unprivileged callers).
  private canonical(c: Caller, raw: string, special = false): { path: string; relative: boolean } {
    const bad = (why: string) => new XenStoreError("EINVAL", `${why}: '${raw.slice(0, 64)}'`);
    if (!PATH_CHARS.test(raw)) throw bad("bad path");
    if (raw[0] === "@" && !special) throw bad("special path not allowed here");
    const relative = raw[0] !== "/" && raw[0] !== "@";
    const path = relative ? `${domainPath(c.domid)}/${raw}` : raw;
    if ((path.endsWith("/") && path !== "/") || path.includes("//")) throw bad("bad path");
    const local = DOMAIN_PREFIX.exec(path)?.[0].length ?? 0;
    if (path.length > XS.XENSTORE_ABS_PATH_MAX || (!c.privileged && path.length - local > XS.XENSTORE_REL_PATH_MAX)) throw bad("path too long");
    return { path, relative };
  }

  private access(c: Caller, node: Node): number {
    return accessFor(c.domid, c.privileged, node.perms);
  }

  // The node, or undefined if it does not exist. Without the access asked
  // for: EACCES, also for a missing node unless its nearest existing
  // ancestor grants that access (errno_from_parents(): an unreadable
  // subtree does not reveal what is in it).
  private find(c: Caller, view: View, path: string, need: number): Node | undefined {
    const node = view.get(path);
    if (node) {
      if ((this.access(c, node) & need) !== need) throw new XenStoreError("EACCES", path);
      return node;
    }
    let above = parentOf(path);
    while (!view.get(above)) above = parentOf(above);
    if ((this.access(c, view.get(above)!) & need) === 0) throw new XenStoreError("EACCES", path);
    return undefined;
  }

  private lookup(c: Caller, view: View, path: string, need: number): Node {
    const node = this.find(c, view, path, need);
    if (!node) throw new XenStoreError("ENOENT", path);
    return node;
  }

  private checkSize(c: Caller, node: NodeData): void {
    if (!c.privileged && nodeSize(node) > MAX_NODE_SIZE) throw new XenStoreError("ENOSPC", "node too large");
  }

  private readOp(c: Caller, raw: string): Uint8Array {
    return this.lookup(c, this.viewOf(c), this.canonical(c, raw).path, READ).value;
  }

  private writeOp(c: Caller, raw: string, value: Uint8Array): void {
    const { path } = this.canonical(c, raw);
    const view = this.viewOf(c);
    const node = this.find(c, view, path, WRITE);
    if (node) {
      const next = { ...node, value };
      this.checkSize(c, next);
      view.put(path, next);
    } else {
      this.create(c, view, path, value);
    }
    this.changed(c, path, "subtree");
  }

  private mkdirOp(c: Caller, raw: string): void {
    const { path } = this.canonical(c, raw);
    const view = this.viewOf(c);
    if (this.find(c, view, path, WRITE)) return;
    this.create(c, view, path, EMPTY);
    this.changed(c, path, "subtree");
  }

  // construct_node(): creates `path` and its missing parents, each copying
  // its parent's permissions; an unprivileged creator owns what it creates.
  // Every check happens before anything is stored.
  private create(c: Caller, view: View, path: string, value: Uint8Array): void {
    const missing = [path];
    let top = parentOf(path);
    for (; !view.get(top); top = parentOf(top)) missing.unshift(top);
    const parent = view.get(top)!;
    if (!c.privileged && this.ownedBy(view, c.domid) + missing.length > MAX_NODES_PER_DOMAIN) throw new XenStoreError("ENOSPC", "node quota");
    const perms = c.privileged ? parent.perms : [{ domid: c.domid, access: parent.perms[0].access }, ...parent.perms.slice(1)];
    const name = (p: string) => p.slice(p.lastIndexOf("/") + 1);
    const staged: [string, NodeData][] = [[top, { ...parent, children: [...parent.children, name(missing[0])] }]];
    missing.forEach((p, i) => {
      const last = i === missing.length - 1;
      staged.push([p, { value: last ? value : EMPTY, children: last ? [] : [name(missing[i + 1])], perms }]);
    });
    for (const [, node] of staged) this.checkSize(c, node);
    for (const [p, node] of staged) view.put(p, node);
  }

  private ownedBy(view: View, domid: number): number {
    let n = 0;
    for (const node of view.nodes.values()) if (node.perms[0].domid === domid) n++;
    return n;
  }

  // Removes a subtree. Removing a missing node is fine if its parent exists.
  private rmOp(c: Caller, raw: string): void {
    const { path } = this.canonical(c, raw);
    const view = this.viewOf(c);
    if (!this.find(c, view, path, WRITE)) {
      if (view.get(parentOf(path))) return;
      throw new XenStoreError("ENOENT", path);
    }
    if (path === "/") throw new XenStoreError("EINVAL", "cannot remove /");
    this.removeTree(c, view, path);
  }

  // Fires (children first, as delnode_sub()) while the nodes can still be
  // seen for the permission check, then deletes.
  private removeTree(c: Caller, view: View, path: string): void {
    const doomed: string[] = [];
    const walk = (p: string) => {
      for (const child of view.get(p)?.children ?? []) walk(childPath(p, child));
      doomed.push(p);
    };
    walk(path);
    for (const p of doomed) this.changed(c, p, p === path ? "subtree" : "exact");
    for (const p of doomed) view.remove(p);
    const parent = view.get(parentOf(path))!;
    const name = path.slice(path.lastIndexOf("/") + 1);
    view.put(parentOf(path), { ...parent, children: parent.children.filter((n) => n !== name) });
  }

  private directoryOp(c: Caller, raw: string): readonly string[] {
    return this.lookup(c, this.viewOf(c), this.canonical(c, raw).path, READ).children;
  }

  // DIRECTORY_PART: the node's generation, then the children list from a
  // byte offset, as much as fits; an extra NUL marks the end of the list.
  private directoryPartOp(c: Caller, payload: Uint8Array): Uint8Array {
    const strings = args(payload);
    if (strings.length !== 2) throw new XenStoreError("EINVAL", "expected path and offset");
    const node = this.lookup(c, this.viewOf(c), this.canonical(c, strings[0]).path, READ);
    const offset = Number(/^\d*/.exec(strings[1])![0] || 0); // atoi()
    const list = cstrings(...node.children);
    const gen = cstrings(String(node.gen));
    if (offset >= list.length) return new Uint8Array([...gen, 0]);
    const room = XS.XENSTORE_PAYLOAD_MAX - gen.length - 1;
    let end = offset;
    for (let next = list.indexOf(0, end) + 1; next - offset - 1 < room; next = list.indexOf(0, end) + 1) {
      end = next;
      if (end === list.length) break;
    }
    return new Uint8Array([...gen, ...list.subarray(offset, end), ...(end === list.length ? [0] : [])]);
  }

  private getPermsOp(c: Caller, raw: string): readonly Perm[] {
    return this.lookup(c, this.viewOf(c), this.canonical(c, raw, true).path, READ).perms;
  }

  // Only the owner (or dom0) may set permissions; only dom0 may change the owner.
  private setPermsOp(c: Caller, raw: string, perms: Perm[]): void {
    if (perms.length === 0) throw new XenStoreError("EINVAL", "no permissions");
    const { path } = this.canonical(c, raw, true);
    const view = this.viewOf(c);
    const node = this.lookup(c, view, path, WRITE | OWNER);
    if (!c.privileged && perms[0].domid !== node.perms[0].domid) throw new XenStoreError("EPERM", "only dom0 changes owners");
    const next = { ...node, perms };
    this.checkSize(c, next);
    view.put(path, next);
    this.changed(c, path, "subtree", [node.perms]);
  }

  // ---- watches

  private newWatch(c: Caller, watches: Watch[], raw: string, token: string): Watch {
    const { path, relative } = this.canonical(c, raw, true);
    if (watches.some((w) => w.path === path && w.token === token)) throw new XenStoreError("EEXIST", `watch ${raw} ${token}`);
    if (!c.privileged && watches.length >= this.limits.maxWatchesPerDomain) throw new XenStoreError("ENOSPC", "watch quota");
    return { path, token, relative };
  }

  private findWatch(c: Caller, watches: Watch[], raw: string, token: string): number {
    const { path } = this.canonical(c, raw, true);
    const at = watches.findIndex((w) => w.path === path && w.token === token);
    if (at < 0) throw new XenStoreError("ENOENT", `no watch ${raw} ${token}`);
    return at;
  }

  private eventPath(domid: number, watch: Watch, path: string): string {
    return watch.relative ? path.slice(domainPath(domid).length + 1) : path;
  }

  // The permissions that decide who hears of a change at `path`: the node's
  // and its parent's (watch_permitted()).
  private permsAround(path: string): (readonly Perm[])[] {
    return [this.nodes.get(path)?.perms, this.nodes.get(parentOf(path))?.perms].filter((p) => p !== undefined);
  }

  // A node changed: fire now, or when the caller's transaction commits.
  private changed(c: Caller, path: string, match: Match, oldPerms: (readonly Perm[])[] = []): void {
    if (c.tx) c.tx.queue(path, match);
    else this.fire(path, match, [...oldPerms, ...this.permsAround(path)]);
  }

  // Queues an event for every watch that matches, on connections that may
  // read the node or its parent (with old or new permissions).
  private fire(path: string, match: Match, perms: (readonly Perm[])[]): void {
    const hits = (w: Watch) => (match === "exact" ? w.path === path : isChild(path, w.path));
    for (const w of this.localWatches) if (hits(w)) this.localEvents.push({ cb: w.cb, path: this.eventPath(0, w, path), token: w.token });
    for (const conn of this.conns.values()) {
      if (conn.broken) continue;
      if (!conn.privileged && !perms.some((p) => accessFor(conn.domid, false, p) & READ)) continue;
      for (const w of conn.watches) if (hits(w)) this.queueEvent(conn, this.eventPath(conn.domid, w, path), w.token);
    }
  }

  // @introduceDomain / @releaseDomain, also as "@...Domain/<domid>" for
  // watches on one domain; who may hear them is the special node's business.
  private fireSpecial(name: string, domid: number): void {
    const perms = [this.nodes.get(name)!.perms];
    this.fire(name, "exact", perms);
    this.fire(`${name}/${domid}`, "exact", perms);
  }

  private queueEvent(conn: Connection, path: string, token: string): void {
    const payload = cstrings(path, token);
    if (payload.length > XS.XENSTORE_PAYLOAD_MAX) return; // send_event() drops what cannot be sent
    const bytes = message(XS.XS_WATCH_EVENT, 0, 0, payload);
    // An identical event still queued says it all (special events excepted).
    if (path[0] !== "@" && conn.out.some((m) => !m.reply && Buffer.compare(m.bytes, bytes) === 0)) return;
    conn.out.push({ bytes, reply: false });
    this.dirty.add(conn);
  }

  // domain_tree_remove(): deletes the subtrees a gone domain owns and drops
  // its entries from other nodes' permissions. A special node it was given
  // goes back to dom0 instead: the special watches must keep working.
  private dropOrphans(domid: number, path: string): void {
    const node = this.nodes.get(path);
    if (!node) return;
    if (node.perms[0].domid === domid && path[0] !== "@") return this.removeTree(DOM0, this.store, path);
    const owner = node.perms[0].domid === domid ? { domid: 0, access: node.perms[0].access } : node.perms[0];
    const others = node.perms.slice(1).filter((p) => p.domid !== domid);
    if (owner !== node.perms[0] || others.length !== node.perms.length - 1) this.store.put(path, { ...node, perms: [owner, ...others] });
    for (const child of node.children) this.dropOrphans(domid, childPath(path, child));
  }

  // ---- transactions

  private startTx(conn: Connection, c: Caller): Reply {
    if (c.tx) throw new XenStoreError("EBUSY", "transactions do not nest");
    if (!c.privileged && conn.txs.size >= this.limits.maxTransactionsPerDomain) throw new XenStoreError("ENOSPC", "transaction quota");
    while (conn.nextTx === 0 || conn.txs.has(conn.nextTx)) conn.nextTx = (conn.nextTx + 1) >>> 0;
    const tx = new Transaction(conn.nextTx, this.nodes, () => ++this.generation);
    conn.nextTx = (conn.nextTx + 1) >>> 0;
    conn.txs.set(tx.id, tx);
    return { payload: cstrings(String(tx.id)) };
  }

  // The transaction ends either way; "T" then applies it unless something
  // it saw changed meanwhile (EAGAIN: the caller starts over).
  private endTx(conn: Connection, c: Caller, how: string): Reply {
    if (how !== "T" && how !== "F") throw new XenStoreError("EINVAL", "expected T or F");
    if (!c.tx) throw new XenStoreError("ENOENT", "no transaction");
    conn.txs.delete(c.tx.id);
    if (how === "T") this.commit(c.tx);
    return OK;
  }

  private commit(tx: Transaction): void {
    for (const [path, first] of tx.seen) if (this.nodes.get(path) !== first) throw new XenStoreError("EAGAIN", `${path} changed`);
    const events = [...tx.events].map(([path, match]) => ({ path, match, before: this.permsAround(path) }));
    for (const [path, first] of tx.seen) {
      const mine = tx.nodes.get(path);
      if (mine === first) continue;
      if (mine) this.store.put(path, mine);
      else this.store.remove(path);
    }
    for (const e of events) this.fire(e.path, e.match, [...e.before, ...this.permsAround(e.path)]);
  }

  // ---- the wire protocol

  private wireOps(): Map<number, Op> {
    const path = (payload: Uint8Array) => oneArg(payload);
    const ok = (f: () => void): Reply => (f(), OK);
    const noSim: Op = { privileged: true, run: () => { throw new XenStoreError("ENOSYS", "not in the sim"); } };
    return new Map<number, Op>([
      [XS.XS_READ, { run: (_, c, p) => ({ payload: this.readOp(c, path(p)).slice() }) }],
      [XS.XS_WRITE, {
        run: (_, c, p) => {
          const nul = p.indexOf(0);
          if (nul < 0) throw new XenStoreError("EINVAL", "write without path");
          return ok(() => this.writeOp(c, text(p.subarray(0, nul)), p.slice(nul + 1)));
        },
      }],
      [XS.XS_MKDIR, { run: (_, c, p) => ok(() => this.mkdirOp(c, path(p))) }],
      [XS.XS_RM, { run: (_, c, p) => ok(() => this.rmOp(c, path(p))) }],
      [XS.XS_DIRECTORY, { run: (_, c, p) => ({ payload: cstrings(...this.directoryOp(c, path(p))) }) }],
      [XS.XS_DIRECTORY_PART, { run: (_, c, p) => ({ payload: this.directoryPartOp(c, p) }) }],
      [XS.XS_GET_PERMS, { run: (_, c, p) => ({ payload: cstrings(...this.getPermsOp(c, path(p)).map(permText)) }) }],
      [XS.XS_SET_PERMS, {
        run: (_, c, p) => {
          const [target, ...perms] = args(p);
          if (target === undefined) throw new XenStoreError("EINVAL", "set_perms without path");
          if (!c.privileged && perms.length > MAX_PERMS) throw new XenStoreError("ENOSPC", "too many permissions");
          return ok(() => this.setPermsOp(c, target, perms.map(parsePerm)));
        },
      }],
      [XS.XS_WATCH, { noTx: true, run: (conn, c, p) => this.watchOp(conn, c, p) }],
      [XS.XS_UNWATCH, { noTx: true, run: (conn, c, p) => this.unwatchOp(conn, c, p) }],
      [XS.XS_TRANSACTION_START, { run: (conn, c) => this.startTx(conn, c) }],
      [XS.XS_TRANSACTION_END, { run: (conn, c, p) => this.endTx(conn, c, oneArg(p)) }],
      [XS.XS_GET_DOMAIN_PATH, { run: (_, __, p) => ({ payload: cstrings(domainPath(parseDomid(oneArg(p)))) }) }],
      [XS.XS_RESET_WATCHES, {
        run: (conn) => ok(() => {
          conn.watches = [];
          conn.txs.clear();
        }),
      }],
      [XS.XS_IS_DOMAIN_INTRODUCED, {
        privileged: true,
        run: (_, __, p) => ({ payload: cstrings(this.conns.has(parseDomid(oneArg(p))) ? "T" : "F") }),
      }],
      // dom0-only requests that need a real toolstack (mapping a guest page, ...).
      [XS.XS_CONTROL, noSim], [XS.XS_INTRODUCE, noSim], [XS.XS_RELEASE, noSim],
      [XS.XS_RESUME, noSim], [XS.XS_SET_TARGET, noSim],
    ]);
  }

  private watchOp(conn: Connection, c: Caller, payload: Uint8Array): Reply {
    const strings = args(payload);
    if (strings.length !== 2) throw new XenStoreError("EINVAL", "expected path and token");
    const watch = this.newWatch(c, conn.watches, strings[0], strings[1]);
    conn.watches.push(watch);
    // "When a watch is first set up it is triggered once straight away."
    return { ...OK, after: () => this.queueEvent(conn, this.eventPath(conn.domid, watch, watch.path), watch.token) };
  }

  private unwatchOp(conn: Connection, c: Caller, payload: Uint8Array): Reply {
    const strings = args(payload);
    if (strings.length !== 2) throw new XenStoreError("EINVAL", "expected path and token");
    conn.watches.splice(this.findWatch(c, conn.watches, strings[0], strings[1]), 1);
    return OK;
  }

  // process_message(): unknown types get ENOSYS (xenstore.txt: "Any not
  // supported type ... will result in an error response with ENOSYS"),
  // then privilege, then the transaction, then the operation itself.
  private process(conn: Connection, request: Uint8Array): void {
    const v = new DataView(request.buffer, request.byteOffset, request.length);
    const type = v.getUint32(XS.XSD_SOCKMSG_TYPE, true);
    const reqId = v.getUint32(XS.XSD_SOCKMSG_REQ_ID, true);
    const txId = v.getUint32(XS.XSD_SOCKMSG_TX_ID, true);
    let reply: Reply;
    try {
      const op = this.ops.get(type);
      if (!op) throw new XenStoreError("ENOSYS", `message type ${type}`);
      if (op.privileged && !conn.privileged) throw new XenStoreError("EACCES", "dom0 only");
      const tx = op.noTx || txId === 0 ? undefined : conn.txs.get(txId);
      if (!op.noTx && txId !== 0 && !tx) throw new XenStoreError("ENOENT", `no transaction ${txId}`);
      reply = op.run(conn, { domid: conn.domid, privileged: conn.privileged, tx }, request.subarray(HEADER));
      if (reply.payload.length > XS.XENSTORE_PAYLOAD_MAX) throw new XenStoreError("E2BIG", "reply too large");
    } catch (e) {
      if (!(e instanceof XenStoreError)) throw e;
      reply = { type: XS.XS_ERROR, payload: cstrings(e.code) };
    }
    conn.out.push({ bytes: message(reply.type ?? type, reqId, txId, reply.payload), reply: true });
    reply.after?.();
    this.onRequest?.(conn.domid, type, args(request.subarray(HEADER)));
  }

  // ---- the ring

  // Moves what it can: queued output into the rsp ring, then requests out
  // of the req ring, one message at a time, until neither moves. Stops
  // reading while too many replies wait for ring space (domain_can_read()).
  private pump(conn: Connection): void {
    if (conn.pumping) {
      conn.again = true;
      return;
    }
    conn.pumping = true;
    let moved = false;
    try {
      do {
        conn.again = false;
        moved = this.flush(conn) || moved;
        while (!conn.broken && (conn.privileged || conn.inUsed > 0 || conn.outstanding() < this.limits.maxRequestsPerDomain)) {
          if (!this.readSome(conn)) break;
          moved = true;
          this.flush(conn);
        }
      } while (conn.again && !conn.broken);
    } finally {
      conn.pumping = false;
    }
    if (moved && !conn.broken && this.conns.get(conn.domid) === conn) conn.notify();
  }

  // Reads the rest of the header, or of the payload; handles a complete
  // request. False if nothing was there to read.
  private readSome(conn: Connection): boolean {
    const inHeader = conn.inUsed < HEADER;
    const want = inHeader ? HEADER - conn.inUsed : HEADER + this.payloadLength(conn) - conn.inUsed;
    const bytes = takeRequestBytes(conn.ring, want);
    if (bytes === null) return this.breakConnection(conn, "request ring indices");
    if (bytes.length === 0) return false;
    conn.input.set(bytes, conn.inUsed);
    conn.inUsed += bytes.length;
    if (conn.inUsed < HEADER) return true;
    const len = this.payloadLength(conn);
    // xenstore.txt: a client exceeding the payload limit is killed.
    if (len > XS.XENSTORE_PAYLOAD_MAX) return this.breakConnection(conn, `payload of ${len} bytes`);
    if (conn.inUsed === HEADER + len) {
      const request = conn.input.slice(0, conn.inUsed);
      conn.inUsed = 0;
      this.process(conn, request);
    }
    return true;
  }

  private payloadLength(conn: Connection): number {
    return new DataView(conn.input.buffer).getUint32(XS.XSD_SOCKMSG_LEN, true);
  }

  private flush(conn: Connection): boolean {
    let moved = false;
    while (conn.out.length > 0 && !conn.broken) {
      const n = putResponseBytes(conn.ring, conn.out[0].bytes.subarray(conn.outSent));
      if (n === null) return this.breakConnection(conn, "response ring indices") || moved;
      if (n === 0) break;
      moved = true;
      conn.outSent += n;
      if (conn.outSent === conn.out[0].bytes.length) {
        conn.out.shift();
        conn.outSent = 0;
      }
    }
    return moved;
  }

  // ignore_connection(): nothing more is read or sent; watches,
  // transactions and buffers go. The domain stays introduced until released.
  private breakConnection(conn: Connection, why: string): false {
    conn.broken = why;
    conn.watches = [];
    conn.txs.clear();
    conn.out = [];
    conn.inUsed = 0;
    return false;
  }

  // ---- running callbacks outside of operations

  // Every public entry point runs through here: once the outermost call is
  // done, guests with new output get it (and a notify), then dom0's watch
  // callbacks run, one at a time, free to call back into the store.
  private run<T>(body: () => T): T {
    this.depth++;
    try {
      return body();
    } finally {
      if (--this.depth === 0) this.settle();
    }
  }

  private settle(): void {
    this.depth++;
    try {
      for (;;) {
        const conn = this.dirty.values().next().value;
        if (conn) {
          this.dirty.delete(conn);
          if (this.conns.get(conn.domid) === conn) this.pump(conn);
          continue;
        }
        const event = this.localEvents.shift();
        if (!event) break;
        event.cb(event.path, event.token);
      }
    } finally {
      this.depth--;
    }
  }
}
