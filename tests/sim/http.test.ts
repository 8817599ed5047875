// examples/http-server against our TCP host in the sim: the page, the JSON
// counter and the disk (from the sim blkback) over one kept-alive
// connection, pipelining, HEAD, the error answers (400, 404, 405, 413) and
// when the connection closes, one log line per request, and the
// connection limit.
import test from "tape";
import { SimBlkback } from "../../sim/blkback.ts";
import type { PeerConn } from "../../sim/tcp-peer.ts";
import { tcpRig, whenLogged, shutdown, MS, type TcpRig } from "./tcp-rig.ts";
import { noTrap } from "./net-rig.ts";
import { willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("examples/http-server/main.ts");

const APP = "examples/http-server/main.ts";

interface Response { status: number; headers: Map<string, string>; body: Uint8Array }

// Splits concatenated HTTP/1.1 responses (each with Content-Length).
// `heads`: how many answered HEAD requests (bodiless) come where.
function parseResponses(data: Uint8Array, headAt: Set<number> = new Set()): Response[] {
  const out: Response[] = [];
  let at = 0;
  const text = (a: number, b: number) => new TextDecoder().decode(data.subarray(a, b));
  while (at < data.length) {
    let end = -1;
    for (let i = at; i + 3 < data.length; i++) if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) { end = i; break; }
    if (end < 0) break;
    const lines = text(at, end).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) { const c = l.indexOf(":"); headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()); }
    const len = headAt.has(out.length) ? 0 : Number(headers.get("content-length") ?? 0);
    out.push({ status, headers, body: data.subarray(end + 4, end + 4 + len) });
    at = end + 4 + len;
  }
  return out;
}

// A client connection: send() appends bytes to what goes out; everything
// received is collected.
class Client {
  out: number[] = [];
  got: number[] = [];
  closed = "";
  conn: PeerConn;
  constructor(r: TcpRig, onOpen: (c: Client) => void, onClose?: (c: Client) => void) {
    this.conn = r.host.connect(80, {
      onOpen: () => onOpen(this),
      onData: (_c, d) => { for (const b of d) this.got.push(b); },
      onEnd: (c) => c.finish(),
      onClose: (_c, why) => { this.closed = why; onClose?.(this); },
    });
  }
  send(text: string, fin = false): void {
    for (const b of new TextEncoder().encode(text)) this.out.push(b);
    this.conn.sendStream(this.out.length, (o, n) => Uint8Array.from(this.out.slice(o, o + n)), fin);
  }
  responses(heads?: Set<number>): Response[] { return parseResponses(Uint8Array.from(this.got), heads); }
}

async function httpRig(disk?: Uint8Array): Promise<TcpRig> {
  const r = await tcpRig({ app: APP });
  if (disk) new SimBlkback(r.g, { disk, readOnly: true });
  return r;
}

test("http: page, JSON counter, the disk (1 MiB) and HEAD over one kept-alive connection; pipelined requests in order; a log line for each", async (t) => {
  const disk = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 131 + (i >> 9)) & 0xff);
  const r = await httpRig(disk);
  let c: Client | null = null;
  whenLogged(r, "http: serving", () => {
    r.host.announce();
    r.g.dom0.after(MS, () => {
      c = new Client(r, (cl) => {
        cl.send("GET / HTTP/1.1\r\nHost: guest\r\n\r\n");
        r.g.dom0.after(20n * MS, () => cl.send("GET /api/counter HTTP/1.1\r\nHost: guest\r\nUser-Agent: test\r\n\r\n"));
        r.g.dom0.after(40n * MS, () => cl.send("GET /disk HTTP/1.1\r\nHost: guest\r\n\r\nHEAD /disk HTTP/1.1\r\nHost: guest\r\n\r\nGET /nope HTTP/1.1\r\nHost: g\r\n\r\n"));
        r.g.dom0.after(500n * MS, () => cl.send("GET /api/counter HTTP/1.1\r\nHost: guest\r\nConnection: close\r\n\r\n"));
      }, () => shutdown(r));
    });
  });
  const res = await r.g.run();
  noTrap(t, res);
  const rs = c!.responses(new Set([3]));
  t.deepEqual(rs.map((x) => x.status), [200, 200, 200, 200, 404, 200], "six answers, in order");
  t.ok(new TextDecoder().decode(rs[0].body).includes("<h1>Hello from tsxen</h1>") && rs[0].headers.get("content-type")?.startsWith("text/html"), "the page");
  t.equal(new TextDecoder().decode(rs[1].body), "{\"requests\": 2}\n", "the counter: 2 requests so far");
  t.equal(rs[1].headers.get("content-type"), "application/json");
  t.equal(rs[2].body.length, disk.length, "the disk: 1 MiB");
  t.ok(rs[2].body.every((b, i) => b === disk[i]), "byte for byte");
  t.equal(rs[3].headers.get("content-length"), String(disk.length), "HEAD: the length, no body");
  t.ok(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/.test(rs[0].headers.get("date") ?? ""), `a Date header (${rs[0].headers.get("date")})`);
  t.equal(rs[0].headers.get("connection"), "keep-alive");
  t.equal(new TextDecoder().decode(rs[5].body), "{\"requests\": 6}\n", "the last counter: 6");
  t.equal(rs[5].headers.get("connection"), "close", "Connection: close honoured...");
  t.equal(c!.closed, "done", "...and the connection closed");
  const logs = res.console.split("\n").filter((l) => l.startsWith("http: 10.0.0.1:"));
  t.equal(logs.length, 6, "one log line per request");
  t.match(logs[2], /^http: 10\.0\.0\.1:\d+ "GET \/disk HTTP\/1\.1" 200 1048576$/, logs[2]);
  t.match(logs[4], /"GET \/nope HTTP\/1\.1" 404 \d+$/);
});

test("http: 400 for malformed requests and HTTP/1.1 without Host, 405 for POST, 413 for an oversized header or a body; HTTP/1.0 closes unless kept alive", async (t) => {
  const r = await httpRig();
  const cases: [string, number, boolean][] = [   // request, status, closes
    ["GARBAGE\r\n\r\n", 400, true],
    ["GET / HTTP/1.1\r\n\r\n", 400, true],
    ["GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400, true],
    ["GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400, true],
    ["GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400, true],
    ["POST / HTTP/1.1\r\nHost: x\r\n\r\n", 405, false],
    ["GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 413, true],
    ["GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(9000) + "\r\n\r\n", 413, true],
    ["GET / HTTP/1.0\r\n\r\n", 200, true],
    ["GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, false],
    ["GET /disk HTTP/1.1\r\nHost: x\r\n\r\n", 404, false],   // no disk attached
  ];
  const clients: Client[] = [];
  let done = 0;
  whenLogged(r, "http: serving", () => {
    r.host.announce();
    r.g.dom0.after(MS, () => {
      for (const [req] of cases) clients.push(new Client(r, (cl) => cl.send(req), () => { if (++done === cases.length) shutdown(r); }));
      // Those kept alive are closed by us after a while.
      r.g.dom0.after(300n * MS, () => clients.forEach((cl, i) => { if (!cases[i][2]) cl.conn.finish(); }));
    });
  });
  const res = await r.g.run();
  noTrap(t, res);
  cases.forEach(([req, status, closes], i) => {
    const rs = clients[i].responses();
    const first = JSON.stringify(req.slice(0, 40));
    t.equal(rs[0]?.status, status, `${first}: ${status}`);
    t.equal(rs[0]?.headers.get("connection"), closes ? "close" : "keep-alive", `${first}: ${closes ? "closed" : "kept alive"}`);
  });
});

test("http: at most 128 connections at once; the 129th and 130th are served once others close (their requests retransmitted)", async (t) => {
  const r = await tcpRig({ app: APP, sim: { memoryMB: 64 } });
  const clients: Client[] = [];
  const answered = () => clients.filter((c) => c.responses().length > 0).length;
  whenLogged(r, "http: serving", () => {
    r.host.announce();
    r.g.dom0.after(MS, () => {
      for (let i = 0; i < 130; i++) clients.push(new Client(r, (cl) => cl.send("GET /api/counter HTTP/1.1\r\nHost: x\r\n\r\n")));
      r.g.dom0.after(500n * MS, () => {
        t.equal(answered(), 128, "128 served and kept open, 2 waiting");
        clients.filter((c) => c.responses().length > 0).slice(0, 2).forEach((c) => c.conn.finish());
        r.g.dom0.after(4000n * MS, () => {
          t.equal(answered(), 130, "the other 2 were served once 2 closed");
          shutdown(r);
        });
      });
    });
  });
  const res = await r.g.run();
  noTrap(t, res);
  t.match(res.console, /http: 10\.0\.0\.1:\d+ "GET \/api\/counter HTTP\/1\.1" 200 \d+/);
});
