// The runtime's xenstore client (xenstore/client.ts) against the sim:
// transactions that conflict and retry against the real sim xenstored, and
// a xenstored that misbehaves (replies it cannot send, oversize or garbled
// messages, impossible ring indices): the guest gets errors, never traps.
import test from "tape";
import { SimGuest } from "../../sim/host.ts";
import * as XS from "../../runtime/abi/xs_wire.ts";
import { willBuild, startedGuest } from "./helpers.ts";
import { RING, MASK, message, hostileStore } from "./xs-hostile.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/xs-probe.ts");
willBuild("tests/apps/xs-tx.ts");

async function probe(setup: (g: SimGuest) => void): Promise<{ lines: string[]; reason: string }> {
  const g = await startedGuest("tests/apps/xs-probe.ts");
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
  const g = await startedGuest("tests/apps/xs-tx.ts");
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
