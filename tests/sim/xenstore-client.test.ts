// The runtime's xenstore client (xenstore/client.ts) against the sim:
// transactions that conflict and retry against the real sim xenstored, and
// a xenstored that misbehaves (replies it cannot send, oversize or garbled
// messages, impossible ring indices): the guest gets errors, never traps.
import test from "tape";
import { SimGuest } from "../../sim/host.ts";
import * as XS from "../../runtime/abi/xs_wire.ts";
import * as L from "../../sim/layout.ts";
import { takeRequestBytes, putResponseBytes, type RingAccess } from "../../sim/xs-ring.ts";
import { wasmOf } from "./helpers.ts";

const RING = L.pageAddress(L.STORE_PFN);
const MASK = XS.XENSTORE_RING_SIZE - 1;

interface Request { type: number; reqId: number; txId: number; payload: Buffer }

const ringOf = (g: SimGuest): RingAccess => ({ view: () => g.view(), offset: RING });

// Takes the request bytes the guest has written and returns the complete
// requests among `pending` + them; an incomplete one stays in `pending`.
function takeRequests(g: SimGuest, pending: { bytes: Buffer }): Request[] {
  const fresh = takeRequestBytes(ringOf(g), XS.XENSTORE_RING_SIZE);
  if (fresh === null) throw new Error("the guest's request ring indices are impossible");
  let buf = Buffer.concat([pending.bytes, fresh]);
  const out: Request[] = [];
  while (buf.length >= XS.XSD_SOCKMSG_SIZE) {
    const len = buf.readUInt32LE(XS.XSD_SOCKMSG_LEN);
    if (buf.length < XS.XSD_SOCKMSG_SIZE + len) break;
    out.push({
      type: buf.readUInt32LE(XS.XSD_SOCKMSG_TYPE), reqId: buf.readUInt32LE(XS.XSD_SOCKMSG_REQ_ID),
      txId: buf.readUInt32LE(XS.XSD_SOCKMSG_TX_ID), payload: buf.subarray(XS.XSD_SOCKMSG_SIZE, XS.XSD_SOCKMSG_SIZE + len),
    });
    buf = buf.subarray(XS.XSD_SOCKMSG_SIZE + len);
  }
  pending.bytes = buf;
  return out;
}

function message(type: number, reqId: number, payload: Buffer, lenField = payload.length): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(type, 0);
  h.writeUInt32LE(reqId, 4);
  h.writeUInt32LE(lenField, 12);
  return Buffer.concat([h, payload]);
}

// Puts replies into the response ring; `prodOverride` then replaces the
// producer index the honest write left (to fake an impossible one).
function putReplies(g: SimGuest, bytes: Buffer, prodOverride?: (prod: number) => number): void {
  if (putResponseBytes(ringOf(g), bytes) !== bytes.length) throw new Error("reply does not fit the ring");
  if (prodOverride) {
    const v = g.view();
    v.setUint32(RING + XS.XS_RING_RSP_PROD, prodOverride(v.getUint32(RING + XS.XS_RING_RSP_PROD, true)), true);
  }
}

const OK = Buffer.from("OK\0");

// A xenstored that answers normally except for the read of data/probe-<n>,
// where `misbehave` supplies the bytes (and maybe a bogus producer).
function hostileStore(g: SimGuest, n: number, misbehave: (reqId: number) => { bytes: Buffer; prod?: (p: number) => number }): void {
  const pending = { bytes: Buffer.alloc(0) };
  g.dom0.onEvent(g.storePort, () => {
    for (const r of takeRequests(g, pending)) {
      const path = r.payload.toString("latin1").split("\0")[0];
      if (r.type === XS.XS_READ && path === `data/probe-${n}`) {
        const bad = misbehave(r.reqId);
        putReplies(g, bad.bytes, bad.prod);
      } else if (r.type === XS.XS_READ) {
        putReplies(g, message(XS.XS_READ, r.reqId, Buffer.from(`v-${path}`)));
      } else {
        putReplies(g, message(r.type, r.reqId, OK));
      }
    }
    g.dom0.send(g.storePort);
  });
}

async function probe(setup: (g: SimGuest) => void): Promise<{ lines: string[]; reason: string }> {
  const g = new SimGuest();
  await g.start(await wasmOf("tests/apps/xs-probe.ts"));
  setup(g);
  const r = await g.run();
  return { lines: r.console.trim().split("\n"), reason: r.reason };
}

test("xenstore client: a well-behaved store answers every read", async (t) => {
  const { lines, reason } = await probe((g) => hostileStore(g, 99, () => ({ bytes: Buffer.alloc(0) })));
  t.equal(reason, "poweroff");
  t.deepEqual(lines.slice(0, 6), [0, 1, 2, 3, 4, 5].map((i) => `probe ${i}: value v-data/probe-${i}`));
  t.equal(lines[6], "probe: connection ok");
});

test("xenstore client: a reply to an unknown req_id is dropped and counted", async (t) => {
  const { lines } = await probe((g) => hostileStore(g, 2, (id) => ({
    bytes: Buffer.concat([message(XS.XS_READ, id + 1000, Buffer.from("stray")), message(XS.XS_READ, id, Buffer.from("real"))]),
  })));
  t.equal(lines[2], "probe 2: value real");
  t.match(lines[7], /^probe: dropped replies 1,/);
});

test("xenstore client: garbled replies fail only their request, with EIO", async (t) => {
  const cases: [string, (id: number) => Buffer][] = [
    ["an error reply without its NUL", (id) => message(XS.XS_ERROR, id, Buffer.from("ENOENT"))],
    ["a reply of the wrong type", (id) => message(XS.XS_DIRECTORY, id, Buffer.from("a\0"))],
    ["a reply of a garbage type", (id) => message(0x1234, id, Buffer.from("x\0"))],
  ];
  for (const [what, bytes] of cases) {
    const { lines, reason } = await probe((g) => hostileStore(g, 1, (id) => ({ bytes: bytes(id) })));
    t.equal(lines[1], "probe 1: error EIO", `${what}: EIO`);
    t.equal(lines[2], "probe 2: value v-data/probe-2", `${what}: the next request works`);
    t.equal(reason, "poweroff", `${what}: no crash`);
  }
});

test("xenstore client: a reply longer than XENSTORE_PAYLOAD_MAX breaks the connection, not the guest", async (t) => {
  const { lines, reason } = await probe((g) => hostileStore(g, 3, (id) => ({ bytes: message(XS.XS_READ, id, Buffer.from("x"), 4097) })));
  t.equal(lines[3], "probe 3: error EIO");
  t.equal(lines[4], "probe 4: error EIO", "later requests fail at once");
  t.equal(lines[6], "probe: connection xenstore reply longer than XENSTORE_PAYLOAD_MAX");
  t.equal(reason, "poweroff");
});

test("xenstore client: a response producer past the ring breaks the connection, not the guest", async (t) => {
  const { lines, reason } = await probe((g) => hostileStore(g, 0, (id) => ({
    bytes: message(XS.XS_READ, id, Buffer.from("v")),
    prod: (p) => p + 5000,
  })));
  t.equal(lines[0], "probe 0: error EIO");
  t.equal(lines[6], "probe: connection xenstore ring indices out of range");
  t.equal(reason, "poweroff");
});

test("xenstore client: a watch event without its token NUL is counted and ignored", async (t) => {
  const { lines } = await probe((g) => hostileStore(g, 1, (id) => ({
    bytes: Buffer.concat([message(XS.XS_WATCH_EVENT, 0, Buffer.from("data/watched\0probe-watch")), message(XS.XS_READ, id, Buffer.from("ok"))]),
  })));
  t.equal(lines[1], "probe 1: value ok");
  t.match(lines[7], /malformed watch events 1, watch events 0$/);
});

test("xenstore client: a transaction that conflicts is retried and commits once", async (t) => {
  const g = new SimGuest();
  await g.start(await wasmOf("tests/apps/xs-tx.ts"));
  g.xenstore.write("/local/domain/1/data/counter", "10");
  let interfered = false;
  // Before xenstored sees the guest's first commit, dom0 changes the counter.
  g.dom0.onEvent(g.storePort, () => {
    const v = g.view();
    const cons = v.getUint32(RING + XS.XS_RING_REQ_CONS, true);
    const prod = v.getUint32(RING + XS.XS_RING_REQ_PROD, true);
    const type = prod - cons >= 16 ? v.getUint32(RING + XS.XS_RING_REQ + (cons & MASK), true) : -1;
    if (!interfered && type === XS.XS_TRANSACTION_END) {
      interfered = true;
      g.xenstore.write("/local/domain/1/data/counter", "20");
    }
    g.xenstore.onGuestEvent(1);
  });
  const r = await g.run();
  t.ok(interfered, "dom0 wrote during the transaction");
  t.deepEqual(r.console.trim().split("\n"), ["tx: committed after 2 attempts", "tx: counter 21 copy 21"]);
});
