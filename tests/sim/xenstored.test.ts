// The sim's xenstored (sim/xenstored.ts), driven as a guest drives it: a
// small guest-side client below writes requests into a real xenstore ring
// page (xs_wire.h layout, in a DataView), raises the store event, and reads
// replies and watch events back from the response ring. Expected behaviour
// is the C xenstored's (docs/misc/xenstore.txt, tools/xenstored/*.c).
import test from "tape";
import * as XS from "../../runtime/abi/xs_wire.ts";
import { XenStored, XenStoreError } from "../../sim/xenstored.ts";

interface Msg {
  type: number;
  reqId: number;
  txId: number;
  payload: Buffer;
}

const RING_PAGE = 4096 * 3; // the page sits at an offset inside guest memory, as in wasm memory

const bytesOf = (...strings: string[]) => Buffer.from(strings.map((s) => s + "\0").join(""), "latin1");
const stringsOf = (payload: Buffer) => payload.toString("latin1").split("\0").slice(0, -1);
// An error reply's name, or "OK"-style text for anything else.
const answer = (m: Msg) => (m.type === XS.XS_ERROR ? stringsOf(m.payload)[0] : m.payload.toString("latin1").replace(/\0$/, ""));

// The guest side: a byte queue into the request ring, a byte queue out of
// the response ring, and messages parsed from it.
class Guest {
  mem = new DataView(new ArrayBuffer(4096 * 5));
  private reqId = 100;
  private pending: number[] = [];
  private received: number[] = [];
  readonly replies: Msg[] = [];
  readonly events: [string, string][] = [];
  notified = 0;
  kicks = 0;

  constructor(readonly xs: XenStored, readonly domid: number) {
    xs.introduceDomain(domid, { view: () => this.mem, offset: RING_PAGE }, () => this.notified++);
  }

  u32(field: number): number {
    return this.mem.getUint32(RING_PAGE + field, true);
  }
  setU32(field: number, value: number): void {
    this.mem.setUint32(RING_PAGE + field, value >>> 0, true);
  }

  // Queues a raw message; returns its req_id.
  send(type: number, payload: Uint8Array, txId = 0, len = payload.length): number {
    const header = new DataView(new ArrayBuffer(XS.XSD_SOCKMSG_SIZE));
    const reqId = ++this.reqId;
    header.setUint32(XS.XSD_SOCKMSG_TYPE, type, true);
    header.setUint32(XS.XSD_SOCKMSG_REQ_ID, reqId, true);
    header.setUint32(XS.XSD_SOCKMSG_TX_ID, txId, true);
    header.setUint32(XS.XSD_SOCKMSG_LEN, len, true);
    this.pending.push(...new Uint8Array(header.buffer), ...payload);
    return reqId;
  }

  // Moves up to `max` queued bytes into the request ring.
  push(max = Infinity): number {
    const cons = this.u32(XS.XS_RING_REQ_CONS);
    let prod = this.u32(XS.XS_RING_REQ_PROD);
    let n = 0;
    while (this.pending.length > 0 && n < max && ((prod - cons) >>> 0) < XS.XENSTORE_RING_SIZE) {
      this.mem.setUint8(RING_PAGE + XS.XS_RING_REQ + (prod & (XS.XENSTORE_RING_SIZE - 1)), this.pending.shift()!);
      prod = (prod + 1) >>> 0;
      n++;
    }
    this.setU32(XS.XS_RING_REQ_PROD, prod);
    return n;
  }

  // Takes everything in the response ring and parses complete messages.
  pull(): number {
    let cons = this.u32(XS.XS_RING_RSP_CONS);
    const prod = this.u32(XS.XS_RING_RSP_PROD);
    const n = (prod - cons) >>> 0;
    for (; cons !== prod; cons = (cons + 1) >>> 0) this.received.push(this.mem.getUint8(RING_PAGE + XS.XS_RING_RSP + (cons & (XS.XENSTORE_RING_SIZE - 1))));
    this.setU32(XS.XS_RING_RSP_CONS, cons);
    for (;;) {
      if (this.received.length < XS.XSD_SOCKMSG_SIZE) break;
      const h = new DataView(new Uint8Array(this.received.slice(0, XS.XSD_SOCKMSG_SIZE)).buffer);
      const len = h.getUint32(XS.XSD_SOCKMSG_LEN, true);
      if (this.received.length < XS.XSD_SOCKMSG_SIZE + len) break;
      const payload = Buffer.from(this.received.splice(0, XS.XSD_SOCKMSG_SIZE + len).slice(XS.XSD_SOCKMSG_SIZE));
      const msg = { type: h.getUint32(XS.XSD_SOCKMSG_TYPE, true), reqId: h.getUint32(XS.XSD_SOCKMSG_REQ_ID, true), txId: h.getUint32(XS.XSD_SOCKMSG_TX_ID, true), payload };
      if (msg.type === XS.XS_WATCH_EVENT) this.events.push(stringsOf(payload) as [string, string]);
      else this.replies.push(msg);
    }
    return n;
  }

  kick(): void {
    this.kicks++;
    this.xs.onGuestEvent(this.domid);
  }

  // push / event / pull until nothing moves any more.
  settle(): void {
    for (let rounds = 0; rounds < 1000; rounds++) {
      const pushed = this.push();
      this.kick();
      if (this.pull() === 0 && pushed === 0 && this.pending.length === 0) return;
    }
    throw new Error("guest: the ring never settled");
  }

  reply(reqId: number): Msg {
    const at = this.replies.findIndex((m) => m.reqId === reqId);
    if (at < 0) throw new Error(`guest: no reply to request ${reqId}`);
    return this.replies.splice(at, 1)[0];
  }

  call(type: number, payload: Uint8Array, txId = 0): Msg {
    const reqId = this.send(type, payload, txId);
    this.settle();
    return this.reply(reqId);
  }

  // The common requests, answered as text: the value, "OK", or the error name.
  op(type: number, ...strings: string[]): string {
    return answer(this.call(type, bytesOf(...strings)));
  }
  read(path: string, txId = 0): string {
    return answer(this.call(XS.XS_READ, bytesOf(path), txId));
  }
  write(path: string, value: string | Uint8Array, txId = 0): string {
    return answer(this.call(XS.XS_WRITE, Buffer.concat([bytesOf(path), Buffer.from(value)]), txId));
  }
  list(type: number, ...strings: string[]): string[] | string {
    const m = this.call(type, bytesOf(...strings));
    return m.type === XS.XS_ERROR ? answer(m) : stringsOf(m.payload);
  }
  takeEvents(): [string, string][] {
    return this.events.splice(0);
  }
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof XenStoreError) return e.code;
    throw e;
  }
  return "no error";
}

test("xenstored: read, write, mkdir, directory and rm over the ring", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  t.equal(g.write("/local/domain/1/name", "guest-one"), "OK");
  t.equal(g.read("/local/domain/1/name"), "guest-one");
  t.equal(xs.read("/local/domain/1/name"), "guest-one", "dom0 sees what the guest wrote");
  t.equal(g.write("data/deep/er/key", "v"), "OK", "a write creates missing parents");
  t.deepEqual(g.list(XS.XS_DIRECTORY, "data/deep"), ["er"]);
  t.equal(g.read("data/deep"), "", "created parents are empty");
  t.equal(g.op(XS.XS_MKDIR, "data/deep"), "OK", "mkdir of an existing node is fine");
  t.equal(g.read("data/deep/er/key"), "v", "and leaves it alone");
  t.equal(g.op(XS.XS_MKDIR, "dir/sub"), "OK");
  t.deepEqual(g.list(XS.XS_DIRECTORY, "/local/domain/1"), ["name", "data", "dir"], "children in creation order");
  t.deepEqual(g.list(XS.XS_DIRECTORY, "dir/sub"), [], "an empty directory");

  const binary = new Uint8Array([0, 1, 2, 0, 255, 0]);
  t.equal(g.write("bin", binary), "OK", "values are bytes, NULs included");
  const got = g.call(XS.XS_READ, bytesOf("bin"));
  t.deepEqual([...got.payload], [...binary], "read returns them exactly, without a terminator");
  t.equal(g.write("empty", ""), "OK");
  t.equal(g.call(XS.XS_READ, bytesOf("empty")).payload.length, 0, "an empty value is an empty payload");

  t.equal(g.op(XS.XS_RM, "data"), "OK", "rm removes a subtree");
  t.equal(g.read("data/deep/er/key"), "ENOENT");
  t.equal(g.read("data"), "ENOENT");
  t.equal(g.op(XS.XS_RM, "data"), "OK", "removing a missing node whose parent exists is fine");
  t.equal(g.op(XS.XS_RM, "data/x"), "ENOENT", "but not when the parent is missing too");
  t.equal(g.op(XS.XS_GET_DOMAIN_PATH, "7"), "/local/domain/7");
  t.equal(g.op(XS.XS_GET_DOMAIN_PATH, "seven"), "EINVAL");
  t.equal(g.op(XS.XS_GET_DOMAIN_PATH, "65536"), "EINVAL");
  t.end();
});

test("xenstored: replies echo req_id and tx_id, errors included", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  const tx = Number(g.op(XS.XS_TRANSACTION_START, ""));
  const reqId = g.send(XS.XS_READ, bytesOf("missing"), tx);
  g.settle();
  const m = g.reply(reqId);
  t.deepEqual([m.type, m.reqId, m.txId, m.payload.toString("latin1")], [XS.XS_ERROR, reqId, tx, "ENOENT\0"]);
  const ok = g.call(XS.XS_WRITE, bytesOf("a", "").subarray(0, 2), tx);
  t.deepEqual([ok.type, ok.txId, ok.payload.toString("latin1")], [XS.XS_WRITE, tx, "OK\0"], "OK replies are \"OK\\0\"");
  t.end();
});

test("xenstored: paths are checked and relative ones are under the caller's home", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 4);
  t.equal(g.write("rel", "x"), "OK");
  t.equal(xs.read("/local/domain/4/rel"), "x");
  for (const bad of ["", "a//b", "a/", "/a/", "/a b", "a*b", "a.b", "/caf\u00e9", "@introduceDomain"]) {
    t.equal(g.read(bad), "EINVAL", `read '${bad}': EINVAL`);
  }
  const longest = Array(32).fill("x".repeat(63)).join("/") + "x"; // 32 levels keep every node small
  t.equal(longest.length, XS.XENSTORE_REL_PATH_MAX);
  t.equal(g.write("/local/domain/4/" + longest, "v"), "OK", "a relative part of REL_PATH_MAX bytes is fine");
  t.equal(g.write("/local/domain/4/" + longest + "x", "v"), "EINVAL", "one more is not");
  t.equal(g.write(longest + "x", "v"), "EINVAL", "relative or not");
  t.equal(code(() => xs.write("/" + "y".repeat(XS.XENSTORE_ABS_PATH_MAX), "v")), "EINVAL", "nor is a path over ABS_PATH_MAX, even for dom0");
  t.equal(g.read("/"), "EACCES", "the root is dom0's");
  t.end();
});

test("xenstored: permissions between domain 1 and domain 2", (t) => {
  const xs = new XenStored();
  const one = new Guest(xs, 1);
  const two = new Guest(xs, 2);
  t.deepEqual(xs.getPerms("/local/domain/1"), ["n1"], "introduce gives the domain its home");
  t.equal(one.write("secret", "42"), "OK");
  t.deepEqual(one.list(XS.XS_GET_PERMS, "secret"), ["n1"], "a new node inherits its parent's permissions");
  t.equal(two.read("/local/domain/1/secret"), "EACCES");
  t.equal(two.read("/local/domain/1/nothing"), "EACCES", "a missing node in an unreadable place is EACCES, not ENOENT");
  t.equal(one.read("nothing"), "ENOENT", "the owner learns it is missing");
  t.equal(two.write("/local/domain/1/secret", "x"), "EACCES");
  t.equal(two.op(XS.XS_RM, "/local/domain/1/secret"), "EACCES");

  t.equal(one.op(XS.XS_SET_PERMS, "secret", "n1", "r2"), "OK");
  t.equal(two.read("/local/domain/1/secret"), "42", "r2: domain 2 may read");
  t.equal(two.write("/local/domain/1/secret", "x"), "EACCES", "but not write");
  t.equal(two.op(XS.XS_SET_PERMS, "/local/domain/1/secret", "b2"), "EACCES", "only the owner sets permissions");
  t.equal(one.op(XS.XS_SET_PERMS, "secret", "n1", "b2"), "OK");
  t.equal(two.write("/local/domain/1/secret", "from two"), "OK", "b2: and write");
  t.deepEqual(xs.getPerms("/local/domain/1/secret"), ["n1", "b2"], "writing does not change the owner");
  t.equal(one.op(XS.XS_SET_PERMS, "secret", "n2"), "EPERM", "only dom0 changes the owner");
  t.equal(one.op(XS.XS_SET_PERMS, "secret", "x1"), "EINVAL");
  t.equal(one.op(XS.XS_SET_PERMS, "secret", "r"), "EINVAL");
  t.equal(one.op(XS.XS_SET_PERMS, "secret"), "EINVAL", "at least one permission");
  t.equal(one.op(XS.XS_SET_PERMS, "secret", "n1", "r2", "r3", "r4", "r5", "r6"), "ENOSPC", "at most 5 entries");
  t.equal(one.op(XS.XS_SET_PERMS, "secret", "r1", "n2"), "OK");
  t.equal(two.read("/local/domain/1/secret"), "EACCES", "an entry for a domain beats the default");
  t.equal(one.op(XS.XS_SET_PERMS, "secret", "r1"), "OK");
  t.equal(two.read("/local/domain/1/secret"), "from two", "the first entry is everyone's default");

  xs.mkdir("/shared");
  xs.setPerms("/shared", ["n0", "b1", "r2"]);
  t.equal(one.write("/shared/x", "1"), "OK", "b1 lets domain 1 create under /shared");
  t.deepEqual(xs.getPerms("/shared/x"), ["n1", "b1", "r2"], "the creator owns the node, other entries are inherited");
  t.equal(two.read("/shared/x"), "1");
  t.equal(two.write("/shared/y", "1"), "EACCES", "r2 does not allow creating children");
  t.equal(two.read("/shared/y"), "ENOENT", "but tells domain 2 it is missing");
  xs.write("/local/domain/1/device/vif/0/state", "1");
  t.deepEqual(xs.getPerms("/local/domain/1/device/vif/0/state"), ["n1"], "dom0 creating nodes copies the parent's permissions as they are");
  xs.setPerms("/local/domain/1/secret", ["n2"]);
  t.deepEqual(one.list(XS.XS_GET_PERMS, "secret"), "EACCES", "dom0 may give a node away");
  t.equal(two.read("/local/domain/1/secret"), "from two");
  t.end();
});

test("xenstored: watches fire once at once, then on changes in their subtree", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  t.equal(g.op(XS.XS_WATCH, "data", "tok"), "OK");
  t.deepEqual(g.takeEvents(), [["data", "tok"]], "the initial fire, with the path as given");
  t.equal(g.op(XS.XS_WATCH, "/local/domain/1/data/a", "abs"), "OK");
  t.deepEqual(g.takeEvents(), [["/local/domain/1/data/a", "abs"]]);
  t.equal(g.op(XS.XS_WATCH, "data", "tok"), "EEXIST", "the same path and token twice");

  g.write("data/a/b", "1");
  t.deepEqual(g.takeEvents(), [["data/a/b", "tok"], ["/local/domain/1/data/a/b", "abs"]], "a change below fires with the changed path; relative watches get relative paths");
  const notified = g.notified;
  xs.write("/local/domain/1/data", "x");
  t.equal(g.notified, notified + 1, "the guest is notified");
  g.pull();
  t.deepEqual(g.takeEvents(), [["data", "tok"]], "changes by dom0 fire too, and only watches at or above the node");
  g.write("other", "1");
  t.deepEqual(g.takeEvents(), [], "nothing outside the watched subtree");
  g.op(XS.XS_SET_PERMS, "data", "n1", "r0");
  t.deepEqual(g.takeEvents(), [["data", "tok"]], "a permission change fires");

  t.equal(g.op(XS.XS_WATCH, "data/a/b", "leaf"), "OK");
  g.takeEvents();
  g.op(XS.XS_RM, "data");
  t.deepEqual(g.takeEvents(), [["data/a/b", "leaf"], ["/local/domain/1/data/a", "abs"], ["data", "tok"]], "rm fires for each removed node that is watched, children first");

  t.equal(g.op(XS.XS_UNWATCH, "data", "tok"), "OK");
  t.equal(g.op(XS.XS_UNWATCH, "data", "tok"), "ENOENT");
  g.write("data", "again");
  t.deepEqual(g.takeEvents(), [], "no event after unwatch");
  t.equal(g.op(XS.XS_WATCH, "data", "t", "1"), "EINVAL", "no watch depth: a third argument is refused");
  t.equal(g.op(XS.XS_WATCH, "data"), "EINVAL");
  t.equal(answer(g.call(XS.XS_WATCH, bytesOf("x", "y"), 12345)), "OK", "tx_id is ignored for watches");
  g.takeEvents();
  t.equal(g.op(XS.XS_RESET_WATCHES), "OK");
  g.write("x", "1");
  t.deepEqual(g.takeEvents(), [], "reset drops every watch");
  t.end();
});

test("xenstored: watch events respect read permission", (t) => {
  const xs = new XenStored();
  const one = new Guest(xs, 1);
  const two = new Guest(xs, 2);
  t.equal(two.op(XS.XS_WATCH, "/local/domain/1/secret", "spy"), "OK");
  t.deepEqual(two.takeEvents(), [["/local/domain/1/secret", "spy"]], "the initial fire is not checked");
  one.write("secret", "1");
  two.settle();
  t.deepEqual(two.takeEvents(), [], "no event for a node domain 2 cannot read");
  one.op(XS.XS_SET_PERMS, "secret", "n1", "r2");
  two.settle();
  t.deepEqual(two.takeEvents(), [["/local/domain/1/secret", "spy"]], "granting read fires");
  one.write("secret", "2");
  two.settle();
  t.deepEqual(two.takeEvents(), [["/local/domain/1/secret", "spy"]]);
  one.op(XS.XS_SET_PERMS, "secret", "n1");
  two.settle();
  t.deepEqual(two.takeEvents(), [["/local/domain/1/secret", "spy"]], "losing read still tells (the old permissions count)");
  t.end();
});

test("xenstored: dom0 watches are callbacks; events to guests raise their channel", (t) => {
  const xs = new XenStored();
  const seen: string[] = [];
  xs.watch("/local/domain", "backend", (path, token) => seen.push(`${path} ${token}`));
  t.deepEqual(seen.splice(0), ["/local/domain backend"], "the initial fire comes before watch() returns");
  const g = new Guest(xs, 1);
  t.deepEqual(seen.splice(0), ["/local/domain/1 backend"], "introduce created the domain's home");
  g.write("device/vif/0/state", "1");
  t.deepEqual(seen.splice(0), ["/local/domain/1/device/vif/0/state backend"]);
  // A callback may use the store: its writes fire in turn, after it returns.
  xs.watch("/local/domain/1/device/vif/0/state", "be", (path) => {
    if (xs.read(path) === "1") xs.write("/local/domain/0/backend/vif/1/0/state", "2");
  });
  seen.length = 0;
  g.op(XS.XS_WATCH, "device", "fe");
  g.takeEvents();
  const before = g.notified;
  xs.write("/local/domain/1/device/vif/0/state", "1");
  t.deepEqual(seen, ["/local/domain/1/device/vif/0/state backend", "/local/domain/0/backend/vif/1/0/state backend"], "the callback's own write fires after it");
  t.ok(g.notified > before, "the guest was notified of its event");
  g.pull();
  t.deepEqual(g.takeEvents(), [["device/vif/0/state", "fe"]]);
  t.equal(xs.read("/local/domain/0/backend/vif/1/0/state"), "2", "the callback's write happened");
  xs.unwatch("/local/domain", "backend");
  t.equal(code(() => xs.unwatch("/local/domain", "backend")), "ENOENT");
  t.equal(code(() => xs.watch("/local/domain/1/device/vif/0/state", "be", () => {})), "EEXIST");
  t.end();
});

test("xenstored: @introduceDomain and @releaseDomain", (t) => {
  const xs = new XenStored();
  const seen: string[] = [];
  xs.watch("@introduceDomain", "i", (path) => seen.push(path));
  xs.watch("@releaseDomain", "r", (path) => seen.push(path));
  xs.watch("@releaseDomain/3", "r3", (path) => seen.push(path));
  seen.length = 0;
  const one = new Guest(xs, 1);
  const three = new Guest(xs, 3);
  t.deepEqual(seen.splice(0), ["@introduceDomain", "@introduceDomain"]);
  t.equal(one.op(XS.XS_WATCH, "@releaseDomain", "gone"), "OK");
  t.deepEqual(one.takeEvents(), [["@releaseDomain", "gone"]]);
  t.deepEqual(one.list(XS.XS_GET_PERMS, "@releaseDomain"), "EACCES", "the special nodes are dom0's");
  three.write("x", "1");
  xs.setPerms("/local/domain/1", ["n1", "r3"]);
  xs.releaseDomain(3);
  t.deepEqual(seen.splice(0), ["@releaseDomain", "@releaseDomain/3"], "dom0 hears of the release, also on a per-domain watch");
  one.settle();
  t.deepEqual(one.takeEvents(), [], "domain 1 may not hear of it");
  t.notOk(xs.exists("/local/domain/3"), "the released domain's nodes are gone");
  t.deepEqual(xs.getPerms("/local/domain/1"), ["n1"], "and so are its entries in other nodes' permissions");
  t.equal(code(() => xs.releaseDomain(3)), "ENOENT");

  xs.setPerms("@releaseDomain", ["n0", "r1"]);
  one.settle();
  one.takeEvents();
  const four = new Guest(xs, 4);
  t.equal(code(() => xs.introduceDomain(4, { view: () => four.mem, offset: 0 }, () => {})), "EEXIST");
  xs.releaseDomain(4);
  one.settle();
  t.deepEqual(one.takeEvents().filter(([, token]) => token === "gone"), [["@releaseDomain", "gone"]], "with r1 on @releaseDomain it does");
  t.end();
});

test("xenstored: transactions see a snapshot and commit or fail as a whole", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  g.write("a", "0");
  const tx = Number(g.op(XS.XS_TRANSACTION_START, ""));
  t.ok(tx > 0, `transaction ${tx}`);
  t.equal(g.write("b", "in-tx", tx), "OK");
  t.equal(g.read("b", tx), "in-tx", "a transaction sees its own writes");
  t.equal(g.read("b"), "ENOENT", "nobody else does yet");
  xs.write("/local/domain/1/c", "later");
  t.equal(g.read("c", tx), "ENOENT", "nor does it see writes made since it started");
  t.equal(g.op(XS.XS_TRANSACTION_END, "T"), "ENOENT", "ending needs the transaction's id");
  t.equal(answer(g.call(XS.XS_TRANSACTION_END, bytesOf("X"), tx)), "EINVAL");
  t.equal(answer(g.call(XS.XS_TRANSACTION_START, bytesOf(""), tx)), "EBUSY", "transactions do not nest");
  t.equal(answer(g.call(XS.XS_TRANSACTION_END, bytesOf("T"), tx)), "EAGAIN", "it read c, which changed since it started");
  t.equal(g.read("b"), "ENOENT", "nothing was applied");
  t.equal(g.read("b", tx), "ENOENT", "and the transaction is gone");

  // The usual retry loop, with another writer in the way the first time.
  let attempts = 0;
  for (;;) {
    attempts++;
    const id = Number(g.op(XS.XS_TRANSACTION_START, ""));
    const n = Number(g.read("a", id));
    if (attempts === 1) xs.write("/local/domain/1/a", "10");
    g.write("a", String(n + 1), id);
    const end = answer(g.call(XS.XS_TRANSACTION_END, bytesOf("T"), id));
    if (end === "OK") break;
    t.equal(end, "EAGAIN");
  }
  t.equal(attempts, 2, "a conflicting write costs one retry");
  t.equal(g.read("a"), "11", "the retry worked on the new value");

  const aborted = Number(g.op(XS.XS_TRANSACTION_START, ""));
  g.write("gone", "x", aborted);
  t.equal(answer(g.call(XS.XS_TRANSACTION_END, bytesOf("F"), aborted)), "OK");
  t.equal(g.read("gone"), "ENOENT", "F discards");
  t.equal(g.read("a", 999), "ENOENT", "an unknown tx_id is ENOENT");
  t.end();
});

test("xenstored: independent transactions commit; one touching the same node fails", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  const t1 = Number(g.op(XS.XS_TRANSACTION_START, ""));
  const t2 = Number(g.op(XS.XS_TRANSACTION_START, ""));
  const t3 = Number(g.op(XS.XS_TRANSACTION_START, ""));
  g.write("x/one", "1", t1);
  g.write("y", "2", t2);
  g.write("x/three", "3", t3);
  t.equal(answer(g.call(XS.XS_TRANSACTION_END, bytesOf("T"), t1)), "OK");
  t.equal(answer(g.call(XS.XS_TRANSACTION_END, bytesOf("T"), t2)), "EAGAIN", "t2 created y under the home t1 changed");
  t.equal(answer(g.call(XS.XS_TRANSACTION_END, bytesOf("T"), t3)), "EAGAIN", "t3 created x too");
  const t4 = Number(g.op(XS.XS_TRANSACTION_START, ""));
  const t5 = Number(g.op(XS.XS_TRANSACTION_START, ""));
  g.write("x/one", "4", t4);
  t.equal(g.read("y", t5), "ENOENT");
  t.equal(answer(g.call(XS.XS_TRANSACTION_END, bytesOf("T"), t4)), "OK");
  t.equal(answer(g.call(XS.XS_TRANSACTION_END, bytesOf("T"), t5)), "OK", "disjoint nodes do not conflict");
  t.equal(g.read("x/one"), "4");
  t.end();
});

test("xenstored: watch events from a transaction come when it commits", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  const seen: string[] = [];
  xs.watch("/local/domain/1/data", "dom0", (path) => seen.push(path));
  g.op(XS.XS_WATCH, "data", "w");
  seen.length = 0;
  g.takeEvents();
  const tx = Number(g.op(XS.XS_TRANSACTION_START, ""));
  g.write("data/a", "1", tx);
  g.write("data/a", "2", tx);
  t.deepEqual([seen, g.takeEvents()], [[], []], "nothing while the transaction runs");
  t.equal(answer(g.call(XS.XS_TRANSACTION_END, bytesOf("T"), tx)), "OK");
  t.deepEqual(seen, ["/local/domain/1/data/a"], "one event per changed node at commit");
  t.deepEqual(g.takeEvents(), [["data/a", "w"]]);
  const aborted = Number(g.op(XS.XS_TRANSACTION_START, ""));
  g.write("data/b", "1", aborted);
  g.call(XS.XS_TRANSACTION_END, bytesOf("F"), aborted);
  t.deepEqual(g.takeEvents(), [], "none from an aborted one");
  t.end();
});

test("xenstored: a request split byte by byte across events", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  const w = g.send(XS.XS_WRITE, Buffer.concat([bytesOf("split"), Buffer.from("value")]));
  const r = g.send(XS.XS_READ, bytesOf("split"));
  const d = g.send(XS.XS_DIRECTORY, bytesOf("/local/domain/1"));
  let events = 0;
  while (g.push(1) > 0) {
    g.kick();
    g.pull();
    events++;
  }
  t.equal(events, 3 * 16 + 11 + 6 + 16, "one byte per event");
  t.equal(answer(g.reply(w)), "OK");
  t.equal(answer(g.reply(r)), "value");
  t.deepEqual(stringsOf(g.reply(d).payload), ["split"]);
  t.equal(g.replies.length, 0);
  t.end();
});

test("xenstored: a reply larger than the ring arrives over several events", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  const big = "0123456789abcdef".repeat(250); // 4000 bytes
  xs.write("/local/domain/1/big", big); // larger than a domU may write (node size quota)
  const kicks = g.kicks;
  const reqId = g.send(XS.XS_READ, bytesOf("big"));
  g.push();
  g.kick();
  t.equal(g.pull(), XS.XENSTORE_RING_SIZE, "the first event fills the ring");
  t.throws(() => g.reply(reqId), /no reply/, "the reply is not complete yet");
  g.settle();
  t.equal(g.reply(reqId).payload.toString("latin1"), big, "it arrives intact");
  t.ok(g.kicks - kicks >= 4, `over ${g.kicks - kicks} events`);
  t.end();
});

test("xenstored: the guest's DataView may be replaced (wasm memory grew)", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  g.write("k", "before");
  const grown = new ArrayBuffer(4096 * 8);
  new Uint8Array(grown).set(new Uint8Array(g.mem.buffer));
  g.mem = new DataView(grown);
  t.equal(g.read("k"), "before", "xenstored uses the new view");
  t.end();
});

test("xenstored: an oversize payload breaks the connection", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  const other = new Guest(xs, 2);
  g.op(XS.XS_WATCH, "x", "w");
  g.takeEvents();
  t.notOk(xs.isBroken(1));
  g.send(XS.XS_WRITE, new Uint8Array(0), 0, XS.XENSTORE_PAYLOAD_MAX + 1);
  g.settle();
  t.ok(xs.isBroken(1), "the header alone was enough");
  const reqId = g.send(XS.XS_READ, bytesOf("x"));
  g.settle();
  t.throws(() => g.reply(reqId), /no reply/, "nothing is answered any more");
  xs.write("/local/domain/1/x", "1");
  g.pull();
  t.deepEqual(g.takeEvents(), [], "nor are watch events sent");
  t.equal(other.read("/local/domain/2"), "", "other domains carry on");
  t.notOk(xs.isBroken(2));
  xs.releaseDomain(1);
  t.notOk(xs.isBroken(1), "release forgets the connection");
  t.end();
});

test("xenstored: payloads of exactly PAYLOAD_MAX are fine", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 0); // dom0 over a ring: no node size quota
  const path = "/v";
  const value = "z".repeat(XS.XENSTORE_PAYLOAD_MAX - path.length - 1);
  t.equal(g.write(path, value), "OK");
  t.equal(xs.read(path), value);
  t.notOk(xs.isBroken(0));
  t.end();
});

test("xenstored: impossible ring indices break the connection", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  g.setU32(XS.XS_RING_REQ_PROD, g.u32(XS.XS_RING_REQ_CONS) + XS.XENSTORE_RING_SIZE + 1);
  g.kick();
  t.ok(xs.isBroken(1), "a request producer more than a ring ahead");
  const h = new Guest(xs, 2);
  h.op(XS.XS_WATCH, "x", "w");
  h.setU32(XS.XS_RING_RSP_CONS, h.u32(XS.XS_RING_RSP_PROD) - XS.XENSTORE_RING_SIZE - 1);
  xs.write("/local/domain/2/x", "1");
  t.ok(xs.isBroken(2), "a response consumer that ran ahead of the producer");
  const k = new Guest(xs, 3);
  k.setU32(XS.XS_RING_REQ_CONS, 0xfffffff0);
  k.setU32(XS.XS_RING_REQ_PROD, 0xfffffff0);
  k.setU32(XS.XS_RING_RSP_CONS, 0xfffffffe);
  k.setU32(XS.XS_RING_RSP_PROD, 0xfffffffe);
  t.equal(k.write("wrap", "around the u32 indices"), "OK", "indices wrap freely");
  t.equal(k.read("wrap"), "around the u32 indices");
  t.notOk(xs.isBroken(3));
  t.end();
});

test("xenstored: unknown types get ENOSYS, dom0-only types EACCES", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  for (const type of [9999, 20, 23, XS.XS_WATCH_EVENT, XS.XS_ERROR, XS.XS_INVALID]) {
    const m = g.call(type, bytesOf("x"), 0);
    t.deepEqual([m.type, answer(m)], [XS.XS_ERROR, "ENOSYS"], `type ${type}`);
  }
  for (const type of [XS.XS_INTRODUCE, XS.XS_RELEASE, XS.XS_CONTROL, XS.XS_IS_DOMAIN_INTRODUCED, XS.XS_SET_TARGET, XS.XS_RESUME]) {
    t.equal(answer(g.call(type, bytesOf("1"))), "EACCES", `type ${type} from a domU`);
  }
  const dom0 = new Guest(xs, 0);
  t.equal(dom0.op(XS.XS_IS_DOMAIN_INTRODUCED, "1"), "T");
  t.equal(dom0.op(XS.XS_IS_DOMAIN_INTRODUCED, "5"), "F");
  t.equal(dom0.op(XS.XS_CONTROL, "check"), "ENOSYS");
  t.notOk(xs.isBroken(1));
  t.end();
});

test("xenstored: malformed requests get EINVAL, never an exception", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  g.write("k", "v");
  const raw = (type: number, payload: string) => answer(g.call(type, Buffer.from(payload, "latin1")));
  t.equal(raw(XS.XS_READ, "k"), "EINVAL", "a path without its NUL");
  t.equal(raw(XS.XS_READ, ""), "EINVAL", "no path at all");
  t.equal(raw(XS.XS_READ, "k\0k\0"), "EINVAL", "two strings where one is expected");
  t.equal(raw(XS.XS_WRITE, "k"), "EINVAL", "a write without a NUL after the path");
  t.equal(raw(XS.XS_MKDIR, "\0"), "EINVAL", "an empty path");
  t.equal(raw(XS.XS_DIRECTORY, "k\0\0"), "EINVAL");
  t.equal(raw(XS.XS_SET_PERMS, "k"), "EINVAL");
  t.equal(raw(XS.XS_WATCH, "k\0"), "EINVAL");
  t.equal(raw(XS.XS_UNWATCH, "k"), "EINVAL");
  t.equal(raw(XS.XS_TRANSACTION_END, ""), "EINVAL");
  t.equal(raw(XS.XS_GET_DOMAIN_PATH, ""), "EINVAL");
  t.equal(raw(XS.XS_DIRECTORY_PART, "k\0"), "EINVAL");
  t.equal(raw(XS.XS_READ, "k\xff\0"), "EINVAL", "a byte outside the path alphabet");
  t.equal(g.read("k"), "v", "the connection is fine");
  t.notOk(xs.isBroken(1));
  t.end();
});

test("xenstored: quotas", (t) => {
  const xs = new XenStored({ maxWatchesPerDomain: 3, maxTransactionsPerDomain: 2 });
  const g = new Guest(xs, 1);
  for (const token of ["1", "2", "3"]) t.equal(g.op(XS.XS_WATCH, "w", token), "OK");
  t.equal(g.op(XS.XS_WATCH, "w", "4"), "ENOSPC", "watches");
  t.equal(g.op(XS.XS_TRANSACTION_START, ""), "1");
  t.equal(g.op(XS.XS_TRANSACTION_START, ""), "2");
  t.equal(g.op(XS.XS_TRANSACTION_START, ""), "ENOSPC", "transactions");
  t.equal(g.write("small", "s".repeat(2000)), "OK");
  t.equal(g.write("large", "l".repeat(2100)), "ENOSPC", "a domU's node is at most 2048 bytes");
  xs.write("/local/domain/1/bydom0", "d".repeat(3000));
  t.equal(xs.read("/local/domain/1/bydom0").length, 3000, "dom0 has no quota");
  let result = "OK";
  for (let i = 0; i < 1100 && result === "OK"; i++) result = g.write(`d${Math.floor(i / 50)}/n${i % 50}`, "");
  t.equal(result, "ENOSPC", "nodes per domain");
  const count = (path: string): number => 1 + xs.directory(path).reduce((n, child) => n + count(`${path}/${child}`), 0);
  t.equal(count("/local/domain/1"), 1000, "a domain owns at most 1000 (what dom0 creates in its home is the domain's too)");
  t.end();
});

test("xenstored: a directory too large for one reply: E2BIG, and DIRECTORY_PART", (t) => {
  const xs = new XenStored();
  const g = new Guest(xs, 1);
  const names = Array.from({ length: 300 }, (_, i) => `child-with-a-long-name-${String(i).padStart(3, "0")}`);
  for (const name of names) xs.mkdir(`/local/domain/1/big/${name}`);
  t.equal(g.list(XS.XS_DIRECTORY, "big"), "E2BIG");
  const got: string[] = [];
  let gen: string | undefined;
  let offset = 0;
  for (let parts = 0; parts < 10; parts++) {
    const reply = g.call(XS.XS_DIRECTORY_PART, bytesOf("big", String(offset))).payload;
    t.ok(reply.length <= XS.XENSTORE_PAYLOAD_MAX);
    const [g0, ...rest] = reply.toString("latin1").split("\0");
    if (gen !== undefined) t.equal(g0, gen, "the generation is stable while nothing changes");
    gen = g0;
    const done = reply[reply.length - 1] === 0 && reply[reply.length - 2] === 0;
    const chunk = rest.slice(0, -1).filter((n) => n !== "");
    got.push(...chunk);
    offset += chunk.reduce((n, c) => n + c.length + 1, 0);
    if (done) break;
  }
  t.deepEqual(got, names, "the parts add up to the whole list");
  t.end();
});

test("xenstored: too many unread replies stop xenstored reading requests", (t) => {
  const xs = new XenStored({ maxRequestsPerDomain: 2 });
  const g = new Guest(xs, 1);
  g.write("v", "x".repeat(900));
  const ids = Array.from({ length: 6 }, () => g.send(XS.XS_READ, bytesOf("v")));
  g.push();
  g.kick(); // the guest does not read the response ring yet
  const unread = (g.u32(XS.XS_RING_REQ_PROD) - g.u32(XS.XS_RING_REQ_CONS)) >>> 0;
  t.ok(unread > 0, `requests wait in the ring (${unread} bytes) while replies wait for room`);
  g.settle();
  for (const id of ids) t.equal(g.reply(id).payload.length, 900, `reply ${id}`);
  t.end();
});

test("xenstored: dom0's API reports errors as XenStoreError", (t) => {
  const xs = new XenStored();
  t.equal(code(() => xs.read("/nope")), "ENOENT");
  t.equal(code(() => xs.rm("/")), "EINVAL");
  t.equal(code(() => xs.write("/trailing/", "x")), "EINVAL");
  t.equal(code(() => xs.setPerms("/tool", ["q0"])), "EINVAL");
  t.equal(code(() => xs.directory("/nope")), "ENOENT");
  t.ok(xs.exists("/tool/xenstored"));
  t.notOk(xs.exists("/tool/none"));
  t.deepEqual(xs.directory("/"), ["tool"]);
  xs.write("/a/b", "caf\u00e9");
  t.equal(xs.read("/a/b"), "caf\u00e9", "dom0 values are UTF-8");
  xs.rm("/a");
  t.notOk(xs.exists("/a/b"));
  t.ok(new XenStoreError("EIO") instanceof Error);
  t.end();
});
