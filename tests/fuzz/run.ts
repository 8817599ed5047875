// make fuzz: the seeded fuzz campaigns against the sim (tests/fuzz/*.ts):
// mutated frames into a running guest, hostile netbacks and blkbacks
// attached and detached one after another, a xenstored that mangles its
// replies. Two worker processes (this machine has two cores); prints each
// campaign's cases and cases/s, every failure with the command that
// replays it alone, and a last line "fuzz: N cases, F failures in T s".
//
//   node --import ./tools/ts-register.mjs tests/fuzz/run.ts [--seed S] [--scale X]
//   ... tests/fuzz/run.ts --replay <campaign>:<seed>:<case>
//
// --scale multiplies every campaign's case count (1: about a million
// cases in all; make test runs a short campaign of its own).
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { fuzzFrames } from "./frames.ts";
import { fuzzNetback, fuzzBlkback } from "./backends.ts";
import { fuzzXenstore } from "./xenstore.ts";
import type { CampaignResult } from "./support.ts";
import { replayCommand } from "./support.ts";
import { cleanUpAtExit } from "../sim/helpers.ts";

type Campaign = "frames" | "netback" | "blkback" | "xenstore";
const CAMPAIGNS: Record<Campaign, (o: { seed: number; cases: number; first?: number; onProgress?: (n: number) => void }) => Promise<CampaignResult>> = {
  frames: fuzzFrames, netback: fuzzNetback, blkback: fuzzBlkback, xenstore: fuzzXenstore,
};
// Cases per campaign at --scale 1, and how the two workers share them.
const PLAN: Record<Campaign, number> = { frames: 1_000_000, netback: 1500, blkback: 1500, xenstore: 10_000 };
const WORKERS: Campaign[][] = [["frames"], ["netback", "blkback", "xenstore"]];
const HERE = fileURLToPath(import.meta.url);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function worker(names: Campaign[], seed: number, scale: number): Promise<void> {
  cleanUpAtExit(); // no tape tests here: the app builds stay until the worker exits
  for (const name of names) {
    const cases = Math.max(1, Math.round(PLAN[name] * scale));
    const t0 = Date.now();
    const r = await CAMPAIGNS[name]({
      seed, cases,
      onProgress: (n) => process.send?.({ progress: name, n, ms: Date.now() - t0 }),
    });
    process.send?.({ result: r, ms: Date.now() - t0 });
  }
}

async function replay(spec: string): Promise<number> {
  cleanUpAtExit();
  const [name, seed, caseNo] = spec.split(":");
  if (!(name in CAMPAIGNS) || !/^\d+$/.test(seed ?? "") || !/^\d+$/.test(caseNo ?? "")) {
    console.error("usage: --replay <frames|netback|blkback|xenstore>:<seed>:<case>");
    return 2;
  }
  const r = await CAMPAIGNS[name as Campaign]({ seed: Number(seed), cases: 1, first: Number(caseNo) });
  for (const f of r.failures) console.log(`FAIL ${f.campaign} seed ${f.seed} case ${f.caseNo}: ${f.why}`);
  console.log(r.failures.length ? "replay: the case fails" : "replay: the case passes");
  return r.failures.length ? 1 : 0;
}

async function main(): Promise<number> {
  const replaySpec = arg("--replay");
  if (replaySpec) return replay(replaySpec);
  const seed = Number(arg("--seed") ?? Date.now() % 1_000_000);
  const scale = Number(arg("--scale") ?? process.env.FUZZ_SCALE ?? 1);
  const workerOf = arg("--worker");
  if (workerOf !== undefined) {
    await worker(workerOf.split(",") as Campaign[], seed, scale);
    return 0;
  }
  console.log(`fuzz: seed ${seed}, scale ${scale}: ${Object.entries(PLAN).map(([n, c]) => `${n} ${Math.round(c * scale)}`).join(", ")} cases, ${WORKERS.length} workers`);
  const t0 = Date.now();
  const results: { r: CampaignResult; ms: number }[] = [];
  await Promise.all(WORKERS.map((names) => new Promise<void>((resolve) => {
    const child = fork(HERE, ["--worker", names.join(","), "--seed", String(seed), "--scale", String(scale)], {
      execArgv: ["--import", new URL("../../tools/ts-register.mjs", import.meta.url).pathname],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    child.on("message", (m: { progress?: string; n?: number; ms?: number; result?: CampaignResult }) => {
      if (m.progress) console.log(`fuzz: ${m.progress}: ${m.n} cases, ${Math.round((m.n! * 1000) / m.ms!)} cases/s`);
      if (m.result) {
        results.push({ r: m.result, ms: m.ms! });
        console.log(`fuzz: ${m.result.name} done: ${m.result.cases} cases in ${(m.ms! / 1000).toFixed(1)} s (${Math.round((m.result.cases * 1000) / m.ms!)} cases/s), ${m.result.failures.length} failures`);
      }
    });
    child.on("exit", (code) => {
      if (code !== 0) results.push({ r: { name: names.join("+"), cases: 0, failures: [{ campaign: names[0], seed, caseNo: -1, why: `worker exited with ${code}` }] }, ms: 0 });
      resolve();
    });
  })));
  const ms = Date.now() - t0;
  const failures = results.flatMap((x) => x.r.failures);
  for (const f of failures) console.log(`FAIL ${f.campaign} seed ${f.seed} case ${f.caseNo}: ${f.why}\n  replay: ${replayCommand(f)}`);
  const cases = results.reduce((n, x) => n + x.r.cases, 0);
  console.log(`fuzz: ${cases} cases, ${failures.length} failures in ${(ms / 1000).toFixed(1)} s (${Math.round((cases * 1000) / ms)} cases/s)`);
  return failures.length ? 1 : 0;
}

process.exitCode = await main();
