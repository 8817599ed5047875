// `tsxen sim --inspect --break` driven the way Chrome DevTools or VS Code
// drive it: over the inspector's WebSocket (Chrome DevTools Protocol), with
// the module's inline source map to go from a source line to a breakpoint.
// The app (tests/apps/dbg.ts) must stop at main, then at a breakpoint set by
// line inside a loop, where its locals are read.
import test from "tape";
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import WebSocket from "ws";
import { WasmSourceMap } from "../../tools/source-map.ts";

const APP = "tests/apps/dbg.ts";
const TIMEOUT_MS = 120_000;

interface Message { id?: number; method?: string; params?: any; result?: any; error?: { message: string } }

// A CDP client: commands by id, events queued for `next`.
class Cdp {
  private nextId = 0;
  private readonly replies = new Map<number, (m: Message) => void>();
  private readonly events: Message[] = [];
  private waiting: { method: string; resolve: (m: Message) => void } | null = null;

  constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as Message;
      if (m.id !== undefined) this.replies.get(m.id)?.(m);
      else if (this.waiting && m.method === this.waiting.method) {
        const w = this.waiting;
        this.waiting = null;
        w.resolve(m);
      } else this.events.push(m);
    });
  }

  send(method: string, params: object = {}): Promise<any> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.replies.set(id, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  // The next event `method` (queued or to come).
  next(method: string): Promise<Message> {
    const at = this.events.findIndex((e) => e.method === method);
    if (at >= 0) return Promise.resolve(this.events.splice(at, 1)[0]);
    return new Promise((resolve) => { this.waiting = { method, resolve }; });
  }

  queued(method: string): Message[] {
    return this.events.filter((e) => e.method === method);
  }
}

// The locals of a paused wasm frame, by name: asc --debug names them
// ("$total"); each value is a V8 "wasmvalue" object {type, value}.
async function locals(cdp: Cdp, frame: { scopeChain: { type: string; object: { objectId: string } }[] }): Promise<Map<string, unknown>> {
  const scope = frame.scopeChain.find((s) => s.type === "local");
  const out = new Map<string, unknown>();
  if (!scope) return out;
  const props = (await cdp.send("Runtime.getProperties", { objectId: scope.object.objectId, ownProperties: true })).result as { name: string; value?: { objectId?: string; value?: unknown } }[];
  for (const p of props) {
    const id = p.value?.objectId;
    if (!id) { out.set(p.name, p.value?.value); continue; }
    const inner = (await cdp.send("Runtime.getProperties", { objectId: id, ownProperties: true })).result as { name: string; value?: { value?: unknown } }[];
    out.set(p.name, inner.find((x) => x.name === "value")?.value?.value);
  }
  return out;
}

const lineOf = (text: string) => fs.readFileSync(APP, "utf8").split("\n").findIndex((l) => l.includes(text)) + 1;

test("sim --inspect --break: stops at main, a breakpoint by source line stops in the loop, locals are read", { timeout: TIMEOUT_MS }, async (t) => {
  const child = spawn(process.execPath, ["tools/tsxen.mjs", "sim", "--inspect=127.0.0.1:0", "--break", APP], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  let signal: string | null = null;
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code, sig) => { signal = sig; resolve(code); }));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on("data", (d) => {
        stderr += d;
        const m = /tsxen sim: debugger listening on (ws:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      exited.then(() => reject(new Error(`tsxen sim exited before listening:\n${stderr}`)));
    });
    t.pass(`the inspector listens: ${url}`);
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => { ws.on("open", resolve); ws.on("error", reject); });
    const cdp = new Cdp(ws);
    await cdp.send("Debugger.enable");

    // The app's module: the wasm script with an inline source map.
    const script = cdp.queued("Debugger.scriptParsed").map((e) => e.params).find((p) => p.url.startsWith("wasm://") && p.sourceMapURL.startsWith("data:"));
    t.ok(script, "the app's wasm module is a script, with its source map inline");
    const map = new WasmSourceMap(JSON.parse(Buffer.from(script.sourceMapURL.split(",")[1], "base64").toString("utf8")));
    const appUrl = pathToFileURL(path.resolve(APP)).href;
    t.ok(map.sources.includes(appUrl), `the map names the app's file as ${appUrl} (what VS Code matches breakpoints to)`);
    t.ok(map.sources.includes(pathToFileURL(path.resolve("runtime/log.ts")).href), "and tsxen's own sources (runtime/log.ts)");
    t.ok(map.raw.sourcesContent?.every((c) => typeof c === "string"), "with their text, so the debugger needs to fetch nothing");

    // A breakpoint by source line, as a debugger sets it through the map.
    const line = lineOf("breakpoint here");
    const offsets = map.offsetsOf(appUrl, line);
    t.ok(offsets.length > 0, `line ${line} has code`);
    const bp = await cdp.send("Debugger.setBreakpoint", { location: { scriptId: script.scriptId, lineNumber: 0, columnNumber: offsets[0] } });
    await cdp.send("Runtime.runIfWaitingForDebugger");

    const atMain = (await cdp.next("Debugger.paused")).params;
    const mainLoc = map.lookup(atMain.callFrames[0].location.columnNumber);
    t.equal(mainLoc?.source, appUrl, "--break: stopped in the app's file");
    const mainLine = lineOf("export function main");
    t.ok(mainLoc && mainLoc.line >= mainLine && mainLoc.line <= mainLine + 2, `--break: at the start of main (line ${mainLoc?.line})`);
    await cdp.send("Debugger.resume");

    const inLoop = (await cdp.next("Debugger.paused")).params;
    t.deepEqual(inLoop.hitBreakpoints, [bp.breakpointId], "stopped at the breakpoint");
    const frame = inLoop.callFrames[0];
    t.equal(map.lookup(frame.location.columnNumber)?.line, line, `at line ${line}`);
    t.match(frame.functionName, /sumTo/, `in sumTo (${frame.functionName})`);
    const vars = await locals(cdp, frame);
    t.comment(`locals: ${[...vars].map(([k, v]) => `${k}=${v}`).join(", ")}`);
    t.equal(vars.get("$n"), 10, "the parameter n = 10");
    t.equal(vars.get("$total"), 0, "the local total = 0 on the first pass");
    t.equal(vars.get("$i"), 1, "the loop variable i = 1");

    // Step over the line as a debugger does with a source map: step until
    // the position maps to another line. total becomes 1.
    await cdp.send("Debugger.removeBreakpoint", { breakpointId: bp.breakpointId });
    let stepped = frame;
    for (let steps = 0; steps < 200 && map.lookup(stepped.location.columnNumber)?.line === line; steps++) {
      await cdp.send("Debugger.stepOver");
      stepped = (await cdp.next("Debugger.paused")).params.callFrames[0];
    }
    t.notEqual(map.lookup(stepped.location.columnNumber)?.line, line, `stepped to line ${map.lookup(stepped.location.columnNumber)?.line}`);
    t.equal((await locals(cdp, stepped)).get("$total"), 1, "after stepping over the line, total = 1");
    await cdp.send("Debugger.resume");
    ws.close();

    const code = await exited;
    t.match(stderr, /waiting for the debugger to attach; the app stops at main\(\)/, "it said it waits and will stop at main");
    t.equal(code, 0, `the app ran to the end${code === 0 ? "" : ` (signal ${signal}):\n${stderr}`}`);
    t.ok(stdout.includes("dbg: sum of squares 385\n"), "with its output");
  } finally {
    if (child.exitCode === null) child.kill();
  }
});
