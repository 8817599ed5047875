// tsxen stats <domain>: run in dom0, shows the counters a tsxen guest
// publishes under /local/domain/<domid>/data/tsxen (runtime/stats.ts). It
// asks for a fresh publication (writes data/tsxen/request; a guest that
// called publishStatsOnRequest() answers within a second), waits for `seq`
// to change, then reads the tree with xenstore-ls -f and prints it grouped
// by device. The same data without tsxen:
//   xenstore-ls -f /local/domain/$(xl domid NAME)/data/tsxen
import { execFileSync } from "node:child_process";

export const STATS_DIR = "data/tsxen";

// What `tsxen stats` needs from xenstore (the xenstore-* commands in dom0;
// tests give their own).
export interface StatsStore {
  read(path: string): string | null;
  write(path: string, value: string): void;
  list(path: string): [string, string][];   // every node below path: [full path, value]
  domains(): string[];                      // the domids under /local/domain
}

export class StatsError extends Error {
  name = "StatsError";
}

// `xenstore-ls -f` output: lines `<path> = "<value>"` (values C-escaped).
export function parseXenstoreLs(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split("\n")) {
    const m = /^(\S+) = "(.*)"(?:\s+\(.*\))?$/.exec(line);
    if (m) out.push([m[1], m[2].replace(/\\(.)/g, "$1")]);
  }
  return out;
}

function command(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { code?: string; stderr?: string };
    if (err.code === "ENOENT") throw new StatsError(`${cmd} not found: tsxen stats runs in dom0, with Xen's xenstore tools (Debian: xenstore-utils)`);
    throw e;
  }
}

export function xenstoreCommands(): StatsStore {
  return {
    read: (p) => {
      try { return command("xenstore-read", [p]).replace(/\n$/, ""); } catch (e) { if (e instanceof StatsError) throw e; return null; }
    },
    write: (p, v) => { command("xenstore-write", [p, v]); },
    list: (p) => {
      try { return parseXenstoreLs(command("xenstore-ls", ["-f", p])); } catch (e) { if (e instanceof StatsError) throw e; return []; }
    },
    domains: () => command("xenstore-list", ["/local/domain"]).split("\n").filter((d) => /^\d+$/.test(d)),
  };
}

// A domid, or the domain whose xenstore name is `domain`.
export function resolveDomain(store: StatsStore, domain: string): { domid: string; name: string } {
  if (/^\d+$/.test(domain)) return { domid: domain, name: store.read(`/local/domain/${domain}/name`) ?? "?" };
  for (const d of store.domains()) if (store.read(`/local/domain/${d}/name`) === domain) return { domid: d, name: domain };
  throw new StatsError(`no domain named '${domain}'`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface StatsOptions {
  request?: boolean;      // ask the guest for a fresh publication (default true)
  timeoutMs?: number;     // how long to wait for it (default 3000)
}

export interface StatsSnapshot {
  domid: string;
  name: string;
  fresh: boolean;         // the guest published after our request
  entries: [string, string][];   // paths relative to data/tsxen
}

export async function readStats(store: StatsStore, domain: string, opts: StatsOptions = {}): Promise<StatsSnapshot> {
  const { domid, name } = resolveDomain(store, domain);
  const dir = `/local/domain/${domid}/${STATS_DIR}`;
  let fresh = false;
  if (opts.request ?? true) {
    const before = store.read(`${dir}/seq`);
    store.write(`${dir}/request`, String(Date.now()));
    const until = Date.now() + (opts.timeoutMs ?? 3000);
    while (Date.now() < until) {
      const now = store.read(`${dir}/seq`);
      if (now !== null && now !== before) { fresh = true; break; }
      await sleep(100);
    }
  }
  const entries = store.list(dir)
    .filter(([p]) => p.startsWith(dir + "/"))
    .map(([p, v]): [string, string] => [p.slice(dir.length + 1), v])
    .filter(([p]) => p !== "request");
  return { domid, name, fresh, entries };
}

// The counters grouped by directory ("vif/0", "vbd/51712", …), one per
// line, names aligned.
export function formatStats(s: StatsSnapshot): string {
  const seq = s.entries.find(([p]) => p === "seq")?.[1];
  const head = `domain ${s.domid} (${s.name}): ` +
    (seq === undefined ? "no statistics published (the app calls publishStats…(), see README)" : `publication ${seq}${s.fresh ? "" : " (not refreshed: the guest does not publish on request)"}`);
  const groups = new Map<string, [string, string][]>();
  const isDirectory = (p: string) => s.entries.some(([q]) => q.startsWith(p + "/"));
  for (const [p, v] of s.entries) {
    if (p === "seq" || isDirectory(p)) continue;
    const device = /^(vif|vbd)\/[^/]+\//.exec(p)?.[0].slice(0, -1) ?? "";
    const rest = device ? p.slice(device.length + 1) : p;
    if (!groups.has(device)) groups.set(device, []);
    groups.get(device)!.push([rest, v]);
  }
  const width = Math.max(0, ...[...groups.values()].flat().map(([k]) => k.length)) + 2;
  const lines = [head];
  for (const [device, rows] of [...groups].sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b, "en", { numeric: true })))) {
    if (device) lines.push(device);
    for (const [k, v] of rows) lines.push(`  ${k.padEnd(width)}${v}`);
  }
  return lines.join("\n") + "\n";
}
