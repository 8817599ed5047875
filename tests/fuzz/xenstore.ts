// The xenstore fuzzer: a guest (tests/apps/xs-fuzz.ts: six reads and a
// watch) against a xenstored that answers each request
// with a mutated reply, seeded per case: replies of the wrong type, for an
// unknown or another request's id, without their NUL, with an impossible
// length, cut in two, repeated; spurious or malformed watch events; an
// impossible producer index. A case is one guest run. After every case:
//  - the guest did not trap or panic, and powered off by itself;
//  - it reported every read (a value or an error: nothing hung);
//  - a read made once the connection was called dead failed with EIO.
import { SimGuest } from "../../sim/host.ts";
import * as XS from "../../runtime/abi/xs_wire.ts";
import { guestModule } from "../sim/helpers.ts";
import { takeRequests, message, putReplies, OK } from "../sim/xs-hostile.ts";
import { Rng, caseSeed, type CampaignResult } from "./support.ts";

function watchEvent(path: string, token: string): Buffer {
  return message(XS.XS_WATCH_EVENT, 0, Buffer.from(`${path}\0${token}\0`));
}

// The reply to one request: honest, or mangled by the dice.
function reply(r: Rng, type: number, reqId: number, path: string): { bytes: Buffer; prod?: (p: number) => number } {
  const honest = type === XS.XS_READ ? message(XS.XS_READ, reqId, Buffer.from(`v-${path}`)) : message(type, reqId, OK);
  if (r.next() < 0.6) return { bytes: honest };
  switch (r.int(0, 10)) {
    case 0: return { bytes: message(r.pick([XS.XS_ERROR, XS.XS_WRITE, XS.XS_DIRECTORY, r.int(0, 40)]), reqId, Buffer.from(r.pick(["ENOENT\0", "EACCES", "", "x\0y\0"]))) };
    case 1: return { bytes: Buffer.concat([message(type, reqId + r.int(1, 1000), honest.subarray(16)), honest]) };
    case 2: return { bytes: message(type, reqId, Buffer.from(r.bytes(r.int(0, 64)))) };
    case 3: return { bytes: message(type, reqId, Buffer.alloc(0), r.pick([XS.XENSTORE_PAYLOAD_MAX + 1, 0xffffffff, r.int(4097, 70000)])) };
    case 4: return { bytes: Buffer.concat([honest, honest]) };
    case 5: return { bytes: Buffer.concat([watchEvent(r.pick(["data/watched", "x"]), r.pick(["probe-watch", "other", ""])), honest]) };
    case 6: return { bytes: Buffer.concat([message(XS.XS_WATCH_EVENT, 0, Buffer.from(r.bytes(r.int(0, 40)))), honest]) };
    case 7: return { bytes: honest, prod: (p) => (p + r.int(XS.XENSTORE_RING_SIZE + 1, 0x7fffffff)) >>> 0 };
    case 8: return { bytes: honest.subarray(0, r.int(0, honest.length - 1)) }; // the rest never comes
    case 9: return { bytes: Buffer.alloc(0) };                                  // no answer at all
    default: return { bytes: Buffer.concat([honest, Buffer.from(r.bytes(r.int(1, 30)))]) };
  }
}

export async function fuzzXenstore(o: { seed: number; cases: number; first?: number; onProgress?: (n: number) => void }): Promise<CampaignResult> {
  const { wasm, cmdline } = await guestModule("tests/apps/xs-fuzz.ts");
  const result: CampaignResult = { name: "xenstore", cases: 0, failures: [] };
  const first = o.first ?? 0;
  for (let i = 0; i < o.cases; i++) {
    const c = first + i;
    const r = new Rng(caseSeed(o.seed, c));
    const g = new SimGuest({ maxHypercalls: 5_000_000, cmdline });
    await g.start(wasm);
    const pending = { bytes: Buffer.alloc(0) };
    g.dom0.onEvent(g.storePort, () => {
      for (const q of takeRequests(g, pending)) {
        const path = q.payload.toString("latin1").split("\0")[0];
        const bad = reply(r, q.type, q.reqId, path);
        try {
          putReplies(g, bad.bytes, bad.prod);
        } catch {
          // more than the ring holds: this xenstored gives up on the reply
        }
      }
      g.dom0.send(g.storePort);
    });
    const why = (w: string) => result.failures.push({ campaign: "xenstore", seed: o.seed, caseNo: c, why: w });
    let res;
    try {
      res = await g.run();
    } catch (e) {
      why(`the sim stopped: ${(e as Error).message}`);
      continue;
    }
    const lines = res.console.split("\n");
    if (res.reason !== "poweroff" || /trap:|panic:/.test(res.console)) { why(`ended with ${res.reason}: ${lines.filter((l) => /trap|panic/.test(l)).join(" / ")}`); continue; }
    const reads = lines.filter((l) => /^xs-fuzz: read \d: (value|error) /.test(l));
    if (reads.length !== 6) { why(`reported ${reads.length} of 6 reads`); continue; }
    const late = reads.find((l) => l.endsWith(" (dead before)") && !l.includes(": error EIO "));
    if (late) { why(`a read on a dead connection: "${late}"`); continue; }
    result.cases++;
    if (o.onProgress && (i + 1) % 2000 === 0) o.onProgress(i + 1);
  }
  return result;
}
