// Devices and host traffic in the sim (tsxen sim --vif/--disk/--forward):
//  - end to end: `tsxen sim` of examples/udp-echo with --vif --forward
//    P:7/udp echoes datagrams sent from a host socket, and Ctrl-C powers
//    the guest off (--disk files, --expect and --json are exercised end to
//    end by the `tsxen init` project's test, tests/package.test.ts);
//  - TCP plumbing, layer by layer (udp-echo has no TCP listener): the gateway
//    relays a host connection to a TCP listener on the sim's network (a
//    stand-in for dom0's, as tests/xen/libvirt-scenario.ts uses under Xen), a
//    closed port resets, a silent address times out; and the host side
//    (tools/sim.ts HostPorts) turns sockets into messages and back.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import dgram from "node:dgram";
import net from "node:net";
import { spawn } from "node:child_process";
import { SimMachine } from "../../sim/machine.ts";
import { Station } from "../../sim/station.ts";
import { TcpStack } from "../../sim/tcp.ts";
import { parseFrame } from "../../sim/netswitch.ts";
import { HostPorts, simApp, type SimAppOptions } from "../../tools/sim.ts";
import { parseForward, parseVif } from "../../tools/devices.ts";
import type { ToWorker } from "../../tools/sim-worker.ts";
import { guestModule, willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("examples/udp-echo/main.ts");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-forward-test-"));
test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));
const MS = 1_000_000n;

async function freePort(type: "udp" | "tcp"): Promise<number> {
  if (type === "udp") {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
    const { port } = s.address();
    await new Promise<void>((r) => s.close(r));
    return port;
  }
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

interface SimRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

// `tsxen sim <args>`; `onReady` runs once stderr+stdout show `ready`.
function tsxenSim(args: string[], ready: RegExp | null, onReady: (kill: (sig: NodeJS.Signals) => void) => Promise<void> | void): Promise<SimRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["tools/tsxen.mjs", "sim", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "", fired = ready === null;
    const check = (): void => {
      if (!fired && ready!.test(stdout + stderr)) {
        fired = true;
        void onReady((sig) => child.kill(sig));
      }
    };
    child.stdout.on("data", (d) => { stdout += d; check(); });
    child.stderr.on("data", (d) => { stderr += d; check(); });
    const guard = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("exit", (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

function udpExchange(port: number, payloads: Buffer[]): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    const replies: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      s.close();
      resolve(replies);
    };
    const timer = setTimeout(done, 10_000);
    s.on("message", (m) => {
      replies.push(m);
      if (replies.length === payloads.length) done();
    });
    for (const p of payloads) s.send(p, port, "127.0.0.1");
  });
}

test("sim: tsxen sim udp-echo --vif --forward P:7/udp echoes host datagrams; Ctrl-C powers it off", async (t) => {
  // udp-echo in the probe module (tests/sim/helpers.ts guestModule): --extra picks it
  const app = await guestModule("examples/udp-echo/main.ts");
  const wasm = path.join(tmp, "udp-echo.wasm");
  fs.writeFileSync(wasm, app.wasm);
  const port = await freePort("udp");
  const payloads = [Buffer.from("x"), Buffer.from("hello from the host"), Buffer.alloc(1472, 0xa5)];
  let replies: Buffer[] = [];
  const r = await tsxenSim([wasm, "--extra", app.cmdline, "--vif", "--forward", `${port}:7/udp`, "--json", "--timeout", "100"], /udp-echo: ready/, async (kill) => {
    replies = await udpExchange(port, payloads);
    kill("SIGINT");
  });
  t.equal(replies.length, payloads.length, "every datagram came back");
  t.deepEqual(replies.map((b) => b.toString("hex")).sort(), payloads.map((b) => b.toString("hex")).sort(), "byte for byte (1, 19 and 1472 bytes)");
  t.match(r.stderr, /forwarding 127\.0\.0\.1 UDP port \d+ to the guest's 10\.0\.0\.2:7/, "says where the port goes");
  const summary = JSON.parse(r.stdout);
  t.equal(r.code, 0, "exit 0");
  t.equal(summary.reason, "poweroff", "Ctrl-C: the guest powered off");
  t.ok(summary.console.includes("netfront 0: connected, mac 00:16:3e:00:00:02, ip 10.0.0.2"), "the vif had the default address");
  t.ok(summary.console.some((l: string) => /udp in 3 out 3/.test(l)), "the guest counted 3 datagrams in and out");
});

// simApp in this process, with what it prints captured.
async function simInProcess(opts: SimAppOptions): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [], err: string[] = [];
  const saved = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((c: string | Uint8Array) => (out.push(String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => (err.push(String(c)), true)) as typeof process.stderr.write;
  try {
    return { code: await simApp(opts), stdout: out.join(""), stderr: err.join("") };
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
  }
}

// A machine running udp-echo (virtual time) with a TCP echo listener at
// 10.0.0.1:8000 on its network and forwards to it, to a closed port and to
// the guest (which has no TCP).
test("sim: the gateway relays TCP to a listener on the guest network, both ways, with clean closes", async (t) => {
  const events: string[] = [];
  const received = new Map<number, string>();
  const ended = new Map<number, string | null>();
  const badChecksums: string[] = [];
  const app = await guestModule("examples/udp-echo/main.ts");
  const m = new SimMachine({
    cmdline: app.cmdline,
    vifs: [{ ip: "10.0.0.2", mac: "00:16:3e:00:00:02" }],
    forwards: [
      { proto: "tcp", guestIp: "10.0.0.1", guestPort: 8000 },
      { proto: "tcp", guestIp: "10.0.0.1", guestPort: 8001 },
      { proto: "tcp", guestIp: "10.0.0.2", guestPort: 80 },
    ],
    gatewayHost: {
      udpToClient: () => {},
      tcpToClient: (conn, data) => received.set(conn, (received.get(conn) ?? "") + Buffer.from(data).toString()),
      tcpEnded: (conn, error) => {
        if (!ended.has(conn)) ended.set(conn, error);
        events.push(`end ${conn} ${error}`);
      },
    },
  });
  await m.start(app.wasm);
  const dom0Net = new Station(m.bridge, m.guest.dom0, { ip: "10.0.0.1", mac: "00:16:3e:00:00:01" });
  new TcpStack(dom0Net).listen(8000, (conn) => ({
    onData: (data) => conn.write(new TextEncoder().encode(Buffer.from(data).toString().toUpperCase())),
    onEnd: () => conn.close(),
    onClose: (error) => events.push(`listener closed ${error}`),
  }));
  // every TCP segment on the bridge must have good checksums
  const tap = m.bridge.attach((raw) => {
    const f = parseFrame(raw);
    if (f?.ip?.proto === 6 && (!f.ip.checksumOk || !f.tcp?.checksumOk)) badChecksums.push(Buffer.from(raw).toString("hex"));
  });
  t.ok(tap >= 0);
  const gw = m.gateway!;
  const big = "abcdefghij".repeat(1000);   // 10000 bytes: several segments
  const dom0 = m.guest.dom0;
  dom0.after(10n * MS, () => {
    gw.tcpOpen(1, 0);
    gw.tcpFromClient(1, new TextEncoder().encode("hello "));
    gw.tcpFromClient(1, new TextEncoder().encode(big));
    gw.tcpOpen(2, 1);   // nothing listens on 8001
    gw.tcpOpen(3, 2);   // the guest has no TCP: SYNs go unanswered
  });
  dom0.after(2_000n * MS, () => gw.tcpClientClosed(1));
  dom0.after(200_000n * MS, () => m.guest.xenstore.write("/local/domain/1/control/shutdown", "poweroff"));
  const result = await m.run();
  t.equal(result.reason, "poweroff");
  t.equal(received.get(1), ("hello " + big).toUpperCase(), "10006 bytes there and back, in order");
  t.equal(ended.get(1), null, "connection 1 ended cleanly (FIN both ways)");
  t.ok(events.includes("listener closed null"), "the listener's side closed cleanly too");
  t.equal(ended.get(2), "connection reset by peer", "a closed port answers with RST");
  t.equal(ended.get(3), "timed out", "an address that never answers times out");
  t.deepEqual(badChecksums, [], "every TCP segment had valid IP and TCP checksums");
  t.ok(m.gateway!.station.stats.malformed === 0 && dom0Net.stats.malformed === 0, "no malformed packets");
  t.ok(m.vifs[0].stats.txFrames > 0, `the guest saw the traffic for it (${m.vifs[0].stats.rxFrames} frames in): SYNs it ignores`);
});

test("sim: the host side relays sockets to worker messages and back (tools/sim.ts HostPorts)", async (t) => {
  const tcpPort = await freePort("tcp");
  const udpPort = await freePort("udp");
  const msgs: ToWorker[] = [];
  let notify: () => void = () => {};
  const ports = new HostPorts([{ proto: "tcp", hostPort: tcpPort, guestPort: 80 }, { proto: "udp", hostPort: udpPort, guestPort: 7 }], (m) => {
    msgs.push(m);
    notify();
  });
  await ports.open();
  const until = (pred: () => boolean): Promise<void> => new Promise((resolve) => {
    if (pred()) return resolve();
    notify = () => pred() && resolve();
  });
  const client = net.connect(tcpPort, "127.0.0.1");
  let fromGuest = "";
  const clientEnded = new Promise<void>((r) => client.on("end", r));
  client.on("data", (d) => (fromGuest += d));
  client.write("ping");
  await until(() => msgs.some((m) => m.type === "tcp-data"));
  t.deepEqual(msgs[0], { type: "tcp-open", conn: 1, forward: 0 }, "a connection opens toward forward 0");
  const data = msgs.find((m) => m.type === "tcp-data");
  t.equal(data?.type === "tcp-data" ? Buffer.from(data.data).toString() : "", "ping", "its bytes follow");
  ports.fromWorker({ type: "tcp-data", conn: 1, data: new TextEncoder().encode("pong") });
  ports.fromWorker({ type: "tcp-end", conn: 1, error: null });
  await clientEnded;
  t.equal(fromGuest, "pong", "the guest's bytes reach the client, then its FIN");
  client.end();
  await until(() => msgs.some((m) => m.type === "tcp-close"));
  t.deepEqual(msgs.find((m) => m.type === "tcp-close"), { type: "tcp-close", conn: 1, abort: false }, "the client's FIN is passed on");

  // Half-close the other way round: the client finishes first (nc -q, a
  // shutdown(SHUT_WR)) and still gets what the guest sends afterwards.
  const half = net.connect(tcpPort, "127.0.0.1");
  let late = "";
  const halfEnded = new Promise<void>((r) => half.on("end", r));
  half.on("data", (d) => (late += d));
  half.end("request");
  await until(() => msgs.some((m) => m.type === "tcp-close" && m.conn === 2));
  ports.fromWorker({ type: "tcp-data", conn: 2, data: new TextEncoder().encode("answer after your FIN") });
  ports.fromWorker({ type: "tcp-end", conn: 2, error: null });
  await halfEnded;
  t.equal(late, "answer after your FIN", "a client that shut its side down still gets the guest's answer, then its FIN");

  const u = dgram.createSocket("udp4");
  await new Promise<void>((r) => u.bind(0, "127.0.0.1", r));
  const reply = new Promise<Buffer>((r) => u.once("message", r));
  u.send("dgram", udpPort, "127.0.0.1");
  await until(() => msgs.some((m) => m.type === "udp"));
  const d = msgs.find((m) => m.type === "udp");
  t.equal(d?.type === "udp" ? `${d.forward} ${d.client} ${Buffer.from(d.data)}` : "", `1 127.0.0.1:${u.address().port} dgram`, "a datagram names its forward and client");
  ports.fromWorker({ type: "udp", forward: 1, client: `127.0.0.1:${u.address().port}`, data: new TextEncoder().encode("answer") });
  t.equal((await reply).toString(), "answer", "the guest's answer goes back to that client");
  u.close();
  ports.close();
});

test("sim: a busy host port is a clear error (exit 5), nothing runs", async (t) => {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const port = s.address().port;
  const r = await simInProcess({ input: path.join(tmp, "udp-echo.wasm"), vifs: [parseVif("", 0)], forwards: [parseForward(`${port}:7/udp`)] });
  s.close();
  t.equal(r.code, 5, "exit 5 (host failure)");
  t.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1 UDP port ${port}: in use`));
});
