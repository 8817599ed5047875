// A xenstored for tests that speaks the ring protocol itself, so that it
// can misbehave: it answers reads with "v-<path>" and everything else with
// OK, except where the test supplies other bytes (garbled replies, unknown
// ids, impossible producer indices). Shared by the xenstore client tests
// and the fuzzer.
import { SimGuest } from "../../sim/host.ts";
import * as XS from "../../runtime/abi/xs_wire.ts";
import * as L from "../../sim/layout.ts";
import { takeRequestBytes, putResponseBytes, type RingAccess } from "../../sim/xs-ring.ts";

export const RING = L.pageAddress(L.STORE_PFN);
export const MASK = XS.XENSTORE_RING_SIZE - 1;

export interface Request { type: number; reqId: number; txId: number; payload: Buffer }

const ringOf = (g: SimGuest): RingAccess => ({ view: () => g.view(), offset: RING });

// Takes the request bytes the guest has written and returns the complete
// requests among `pending` + them; an incomplete one stays in `pending`.
export function takeRequests(g: SimGuest, pending: { bytes: Buffer }): Request[] {
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

export function message(type: number, reqId: number, payload: Buffer, lenField = payload.length): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(type, 0);
  h.writeUInt32LE(reqId, 4);
  h.writeUInt32LE(lenField, 12);
  return Buffer.concat([h, payload]);
}

// Puts replies into the response ring; `prodOverride` then replaces the
// producer index the honest write left (to fake an impossible one).
export function putReplies(g: SimGuest, bytes: Buffer, prodOverride?: (prod: number) => number): void {
  if (putResponseBytes(ringOf(g), bytes) !== bytes.length) throw new Error("reply does not fit the ring");
  if (prodOverride) {
    const v = g.view();
    v.setUint32(RING + XS.XS_RING_RSP_PROD, prodOverride(v.getUint32(RING + XS.XS_RING_RSP_PROD, true)), true);
  }
}

export const OK = Buffer.from("OK\0");

// A xenstored that answers normally except for the read of data/probe-<n>,
// where `misbehave` supplies the bytes (and maybe a bogus producer).
export function hostileStore(g: SimGuest, n: number, misbehave: (reqId: number) => { bytes: Buffer; prod?: (p: number) => number }): void {
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
