// tools/rig/harness.ts — the real-Xen rig harness (tsxen run, the tests, make bench).
//
// Boots Xen 4.17 + a Debian 6.1 Linux dom0 in QEMU/TCG once and runs guest
// scenarios (PV or PVH) one after another inside it (`xl create` from
// dom0/init.sh). QEMU's CPU has SVM with nested paging (+svm,+npt): Xen needs
// HAP for PVH guests (Debian's Xen is built without shadow paging). The
// cached hypervisor, kernel and base initramfs come from rig.sh; per run only a
// small second cpio archive holding /scenarios/ is built and appended to the
// base initramfs (Linux unpacks concatenated archives in order).
// Every wait is bounded; only the QEMU process started here is ever killed.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, openSync, readSync, promises as fs, type WriteStream } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';

export interface Scenario {
  /** [a-z0-9-]+; also the xl domain name. */
  name: string;
  /** Host path of the guest ELF. */
  image: string;
  /** xl's `type`: "pv" (default) or "pvh" (a tsxen image boots either way). */
  type?: 'pv' | 'pvh';
  /** Default 32. */
  memoryMB?: number;
  /**
   * Extra xl cfg lines, appended after the generated ones. vifs default to
   * bridge xenbr0 (dom0 is 10.0.0.1/24). A disk whose target is a regular file
   * needs `script=block-tsxen` (libxl only picks the phy backend for files when a
   * script is named); a /dev/loopN target works without.
   */
  xlExtra?: string[];
  /** dom0 sh script run in the scenario dir before `xl create`. */
  setup?: string;
  /**
   * dom0 sh script that creates and starts the domain (named `name`) instead
   * of `xl create -p guest.cfg` + `xl unpause` (e.g. `virsh create`).
   */
  create?: string;
  /**
   * dom0 sh script, run as `check.sh running|stopped <domid> <name> <console-log>`.
   * `. /etc/tsxen/check-lib.sh` gives it wait_console, guest_log and friends (dom0/check-lib.sh).
   */
  check?: string;
  /** Extra files for the scenario dir: name in the dir -> host path. */
  files?: Record<string, string>;
  /**
   * What xl does on a reboot: "preserve" (default: the domain stays, reason
   * reboot) or "restart" (a new domain with the same name boots; the harness
   * follows it by name and reports its final shutdown).
   */
  onReboot?: 'preserve' | 'restart';
  /** Seconds until the guest is paused, reported as 'timeout' and destroyed after check.sh; default 60. */
  timeoutSec?: number;
}

export type ShutdownReason =
  | 'poweroff' | 'reboot' | 'crash' | 'suspend' | 'watchdog' | 'timeout' | 'destroyed' | 'not-run' | 'unknown';

export interface ScenarioResult {
  name: string;
  reason: ShutdownReason;
  /** Guest console lines (as logged by xenconsoled, without CR). */
  console: string[];
  /** null without check.sh; else the `running` rc, or the `stopped` rc when that was 0. */
  checkRc: number | null;
  checkRunningRc: number | null;
  checkStoppedRc: number | null;
  /** Output of both check.sh runs. */
  checkOutput: string[];
  domid: number | null;
  /** How often xl restarted the domain (onReboot: "restart"). */
  restarts: number;
  /** From `xl create` to the result line, measured in dom0. */
  elapsedMs: number;
  /** Why the scenario did not run or ended oddly (setup.sh/xl create failure, ...). */
  error?: string;
  /** Whether dom0's result line for it arrived (false: it never ran, or the line was lost). */
  reported: boolean;
  /** Console and check lines dom0 sent that did not arrive intact (0 when all did). */
  lostLines: number;
}

export interface RigPaths {
  dir: string;
  xen: string;
  vmlinux: string;
  baseInitrd: string;
  /** With prepareRig({ libvirt: true }): the libvirt tree to share with dom0 as tag "libvirt" (see dom0/libvirt-start). */
  libvirt?: string;
}

/**
 * A host port forwarded into the rig: QEMU's user network (slirp, 10.0.0.254
 * on xenbr0) listens on hostAddress:hostPort and relays to guestIp:guestPort
 * on the bridge, where the guests' vifs (and dom0, 10.0.0.1) are.
 */
export interface HostForward {
  proto: 'udp' | 'tcp';
  hostPort: number;
  guestIp: string;
  guestPort: number;
  /** Default 127.0.0.1. */
  hostAddress?: string;
}

/** A host file given to dom0 as a virtio disk: /dev/tsxen-disk<index> there (an xl disk target). */
export interface HostDisk {
  path: string;
  readOnly?: boolean;
}

/** The address QEMU's user network has on the rig bridge: forwarded traffic comes from it. */
export const HOST_GATEWAY_IP = '10.0.0.254';

/** Talks to a running rig: commands go to dom0's /init over the serial line. */
export class RigControl {
  private send: ((line: string) => void) | null = null;
  private queued: string[] = [];

  /** Asks dom0 to `xl shutdown` the scenario's guest that is running (or the next one to run). */
  shutdownGuest(): void {
    this.command('shutdown');
  }

  /** Has dom0 `xl destroy` the running scenario's guest (reason "destroyed"). */
  destroyGuest(): void {
    this.command('destroy');
  }

  /** @internal harness.ts connects it to QEMU's serial input. */
  attach(send: ((line: string) => void) | null): void {
    this.send = send;
    if (send) for (const line of this.queued.splice(0)) send(line);
  }

  private command(name: string): void {
    const line = `TSXEN-CMD ${name}`;
    if (this.send) this.send(line);
    else this.queued.push(line);
  }
}

export interface RigOptions {
  /** Host ports forwarded into the rig's bridge (QEMU user networking). */
  forwards?: HostForward[];
  /** Host files dom0 sees as /dev/tsxen-disk0, 1, … (QEMU virtio-blk). */
  disks?: HostDisk[];
  /** For commands to dom0 while the rig runs (shut the guest down). */
  control?: RigControl;
  /** More dom0 files: gzipped newc archives appended to the initramfs. */
  extraInitrds?: string[];
  /** Host directories dom0 mounts read-only at /mnt/<tag> (QEMU virtfs, read on demand). */
  shares?: { tag: string; path: string }[];
  /** Every serial line (timestamp-free), for live display. */
  onLine?: (line: string) => void;
  onConsole?: (scenario: string, line: string) => void;
  /** Default: 120 s + per scenario its timeout + 15 s of toolstack work. */
  totalTimeoutSec?: number;
  /** Path to write the timestamped serial log to. */
  log?: string;
  /** Already prepared rig; prepareRig() is run otherwise. */
  rig?: RigPaths;
  /** The emulated machine's RAM in MiB (QEMU -m; default 1024). dom0 keeps
   *  512 MiB (dom0_mem); the rest is Xen's and the guests'. */
  memoryMiB?: number;
  /** QEMU's nice value (nice -n; below the current one needs root, else
   *  QEMU runs at the current one). Default: unchanged. */
  nice?: number;
  /** Called once QEMU has been started (the initramfs is written). */
  onStarted?: () => void;
}

export type RunOutcome = 'done' | 'fatal' | 'panic' | 'timeout' | 'qemu-exited';

export interface RunResult {
  results: ScenarioResult[];
  /** Timestamped serial log ("[  s.mmm] line" per line). */
  serialLog: string;
  /** ms from QEMU start to the dom0 toolstack being up; null if never reached. */
  bootMs: number | null;
  totalMs: number;
  outcome: RunOutcome;
  /** The fatal or panic line, if any. */
  failure?: string;
  /** ms from QEMU start to each `MARK <event>` line of dom0. */
  marks: Record<string, number>;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const QEMU = 'qemu-system-x86_64';
const DOM0_CMDLINE = 'console=hvc0 earlyprintk=xen quiet';
// noreboot: keep Xen's last words visible; QEMU is killed here anyway.
// serial_tx_buffer: Xen drops console characters once its serial transmit
// buffer (16 KiB by default) is full; dom0's reports come in bursts (a
// scenario's check output at once), so give it room for a whole run.
const XEN_CMDLINE = 'console=com1 serial_tx_buffer=4M loglvl=all guest_loglvl=all noreboot dom0_mem=512M,max:512M';
const PANIC_RE = /Panic on CPU|Kernel panic|Dom0 crashed/;
// Xen's last word once dom0 is gone (with noreboot it then halts, or enters S5 and QEMU exits).
const XEN_HALTED_RE = /\(XEN\) Hardware Dom0 (halted|shutdown|crashed)/;
const FAILURE_GRACE_MS = 5000;
const TAIL_POLL_MS = 50;
const PREPARE_TIMEOUT_MS = 20 * 60 * 1000;
const RESERVED_FILES = new Set(['guest.cfg', 'timeout', 'setup.sh', 'create.sh', 'check.sh']);

export function rigDir(): string {
  const cache = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return process.env.TSXEN_RIG_DIR ?? path.join(cache, 'tsxen', 'rig');
}

// One `rig.sh prepare` at a time per rig directory (two would write the same
// files), and each (directory, libvirt) prepared once per process: the tests
// start it early (tests/xen/libvirt-scenario.ts), while the images build,
// and every later caller gets that same run.
const preparing = new Map<string, Promise<RigPaths>>();
const lastInDir = new Map<string, Promise<unknown>>();

/** Runs `rig.sh prepare` (idempotent, fast when cached; once per process); its progress goes to stderr. */
export function prepareRig(opts: { dir?: string; libvirt?: boolean } = {}): Promise<RigPaths> {
  const dir = opts.dir ?? rigDir();
  const libvirt = opts.libvirt ?? false;
  const key = `${libvirt ? 'libvirt' : 'base'}:${dir}`;
  // a libvirt prepare includes the base one
  let run = preparing.get(key) ?? (libvirt ? undefined : preparing.get(`libvirt:${dir}`));
  if (!run) {
    run = (lastInDir.get(dir) ?? Promise.resolve()).catch(() => undefined).then(() => runRigPrepare(dir, libvirt));
    lastInDir.set(dir, run);
    preparing.set(key, run);
    // a failed prepare is tried again by the next caller
    run.catch(() => preparing.delete(key));
  }
  return run;
}

async function runRigPrepare(dir: string, libvirt: boolean): Promise<RigPaths> {
  const child = spawn('bash', [path.join(HERE, 'rig.sh'), 'prepare', ...(libvirt ? ['libvirt'] : [])], {
    env: { ...process.env, TSXEN_RIG_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(process.stderr, { end: false });
  child.stderr?.pipe(process.stderr, { end: false });
  const code = await waitForExit(child, PREPARE_TIMEOUT_MS);
  if (code !== 0) throw new Error(`rig.sh prepare failed (exit ${code ?? 'timeout'}); see its output above`);
  const paths: RigPaths = {
    dir,
    xen: path.join(dir, 'xen.elf'),
    vmlinux: path.join(dir, 'vmlinux'),
    baseInitrd: path.join(dir, 'dom0-base.cpio.gz'),
    ...(libvirt ? { libvirt: path.join(dir, 'libvirt') } : {}),
  };
  for (const p of [paths.xen, paths.vmlinux, paths.baseInitrd]) {
    if (!existsSync(p)) throw new Error(`rig.sh prepare succeeded but ${p} is missing`);
  }
  return paths;
}

/** Boots Xen + dom0 once and runs the scenarios in order. */
export async function runScenarios(scenarios: Scenario[], opts: RigOptions = {}): Promise<RunResult> {
  validateScenarios(scenarios);
  assertQemuInstalled();
  const rig = opts.rig ?? (await prepareRig());
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tsxen-rig-'));
  try {
    const initrd = path.join(tmp, 'dom0.cpio.gz');
    await writeInitrd([rig.baseInitrd, ...(opts.extraInitrds ?? [])], scenarios, initrd);
    const totalSec = opts.totalTimeoutSec ?? 120 + scenarios.reduce((s, sc) => s + timeoutOf(sc) + 15, 0);
    return await bootAndCollect(rig, initrd, scenarios, totalSec * 1000, opts, tmp);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- scenarios

function timeoutOf(s: Scenario): number {
  return s.timeoutSec ?? 60;
}

function scenarioDir(s: Scenario, index: number): string {
  return `scenarios/${String(index + 1).padStart(2, '0')}-${s.name}`;
}

function validateScenarios(scenarios: Scenario[]): void {
  const names = new Set<string>();
  for (const s of scenarios) {
    if (!/^[a-z0-9-]+$/.test(s.name)) throw new Error(`scenario name ${JSON.stringify(s.name)} must match [a-z0-9-]+`);
    if (names.has(s.name)) throw new Error(`duplicate scenario name ${s.name}`);
    names.add(s.name);
    if (s.type !== undefined && s.type !== 'pv' && s.type !== 'pvh') throw new Error(`${s.name}: type must be "pv" or "pvh"`);
    const t = timeoutOf(s);
    if (!Number.isInteger(t) || t <= 0) throw new Error(`${s.name}: timeoutSec must be a positive integer`);
    for (const [file, hostPath] of [[path.basename(s.image), s.image], ...Object.entries(s.files ?? {})]) {
      if (!/^[A-Za-z0-9._-]+$/.test(file) || file.startsWith('.') || RESERVED_FILES.has(file)) {
        throw new Error(`${s.name}: file name ${JSON.stringify(file)} is not allowed in the scenario dir`);
      }
      if (!existsSync(hostPath)) throw new Error(`${s.name}: ${hostPath} does not exist`);
    }
  }
}

function guestCfg(s: Scenario, dir: string): string {
  const lines = [
    `name = "${s.name}"`,
    `type = "${s.type ?? 'pv'}"`,
    `kernel = "/${dir}/${path.basename(s.image)}"`,
    `memory = ${s.memoryMB ?? 32}`,
    'vcpus = 1',
    // preserve: the shut-down domain stays for check.sh and for reading its reason
    'on_poweroff = "preserve"',
    `on_reboot = "${s.onReboot ?? 'preserve'}"`,
    'on_crash = "preserve"',
    ...(s.xlExtra ?? []),
  ];
  return lines.join('\n') + '\n';
}

interface CpioEntry {
  name: string;
  mode: number;
  data: Buffer;
}

// A file several scenarios bring (the same image, a dom0 tool: the same
// bytes) is archived once; the later scenarios get a symlink to that copy
// (dom0 unpacks the initramfs under TCG: tens of MiB of copies cost it
// seconds).
async function scenarioEntries(scenarios: Scenario[]): Promise<CpioEntry[]> {
  const dirMode = 0o040755;
  const entries: CpioEntry[] = [{ name: 'scenarios', mode: dirMode, data: Buffer.alloc(0) }];
  const file = (name: string, text: string, mode = 0o100644): CpioEntry => ({ name, mode, data: Buffer.from(text) });
  const archived = new Map<string, string>(); // SHA-256 of the contents -> the path in dom0
  for (const [i, s] of scenarios.entries()) {
    const dir = scenarioDir(s, i);
    entries.push({ name: dir, mode: dirMode, data: Buffer.alloc(0) });
    entries.push(file(`${dir}/guest.cfg`, guestCfg(s, dir)));
    entries.push(file(`${dir}/timeout`, `${timeoutOf(s)}\n`));
    if (s.setup !== undefined) entries.push(file(`${dir}/setup.sh`, s.setup, 0o100755));
    if (s.create !== undefined) entries.push(file(`${dir}/create.sh`, s.create, 0o100755));
    if (s.check !== undefined) entries.push(file(`${dir}/check.sh`, s.check, 0o100755));
    const copies: [string, string][] = [[path.basename(s.image), s.image], ...Object.entries(s.files ?? {})];
    for (const [name, hostPath] of copies) {
      const data = await fs.readFile(hostPath);
      const key = createHash('sha256').update(data).digest('hex');
      const first = archived.get(key);
      if (first !== undefined) {
        entries.push({ name: `${dir}/${name}`, mode: 0o120777, data: Buffer.from(first) });
        continue;
      }
      archived.set(key, `/${dir}/${name}`);
      entries.push({ name: `${dir}/${name}`, mode: 0o100644, data });
    }
  }
  return entries;
}

// newc ("070701") format, as the kernel's initramfs unpacker reads it.
function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const header = (ino: number, e: CpioEntry): Buffer => {
    const nameSize = Buffer.byteLength(e.name) + 1;
    const fields = [ino, e.mode, 0, 0, e.mode & 0o040000 ? 2 : 1, 0, e.data.length, 0, 0, 0, 0, nameSize, 0];
    const text = '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('') + e.name + '\0';
    return Buffer.from(text, 'latin1');
  };
  const all = [...entries, { name: 'TRAILER!!!', mode: 0, data: Buffer.alloc(0) }];
  for (const [i, e] of all.entries()) {
    const h = header(i + 1, e);
    parts.push(h, pad4(h.length), e.data, pad4(e.data.length));
  }
  return Buffer.concat(parts);
}

async function writeInitrd(archives: string[], scenarios: Scenario[], out: string): Promise<void> {
  const parts: Buffer[] = [];
  const pad4 = (): Buffer => Buffer.alloc((4 - (parts.reduce((n, p) => n + p.length, 0) % 4)) % 4);
  // The kernel skips zero padding between archives; keep each one 4-aligned.
  for (const archive of archives) parts.push(pad4(), await fs.readFile(archive));
  parts.push(pad4(), gzipSync(cpioNewc(await scenarioEntries(scenarios))));
  await fs.writeFile(out, Buffer.concat(parts));
}

// ---------------------------------------------------------------- QEMU

function assertQemuInstalled(): void {
  const r = spawnSync(QEMU, ['--version'], { stdio: 'ignore', timeout: 10000 });
  if (r.error !== undefined) throw new Error(`${QEMU} not found: apt-get install qemu-system-x86`);
}

// QEMU splits option values at commas; a literal comma is written twice.
const esc = (s: string): string => s.replaceAll(',', ',,');

// dom0's host devices (see attach_host_devices in dom0/init.sh): a virtio
// NIC on QEMU's user network when there are forwards, a 9p share per host
// directory and a virtio disk per host file. Not restrict=on: slirp then drops the guest's UDP replies to a
// forward. Its DNS address moves off 10.0.0.3 (slirp answers ARP for it,
// and a guest may have that address).
function hostDeviceArgs(opts: RigOptions): string[] {
  const args: string[] = [];
  const forwards = opts.forwards ?? [];
  if (forwards.length === 0) args.push('-nic', 'none');
  else {
    const fwd = forwards.map((f) => `,hostfwd=${f.proto}:${f.hostAddress ?? '127.0.0.1'}:${f.hostPort}-${f.guestIp}:${f.guestPort}`);
    args.push(
      '-netdev', `user,id=hostnet,net=10.0.0.0/24,host=${HOST_GATEWAY_IP},dns=10.0.0.253,dhcpstart=10.0.0.200,ipv6=off${fwd.join('')}`,
      '-device', 'virtio-net-pci,netdev=hostnet',
    );
  }
  for (const share of opts.shares ?? []) {
    if (!/^[a-z0-9-]+$/.test(share.tag)) throw new Error(`share tag ${JSON.stringify(share.tag)} must match [a-z0-9-]+`);
    args.push('-virtfs', `local,path=${esc(share.path)},mount_tag=${share.tag},security_model=none,readonly=on`);
  }
  for (const [i, d] of (opts.disks ?? []).entries()) {
    args.push(
      '-drive', `file=${esc(path.resolve(d.path))},if=none,id=tsxendisk${i},format=raw${d.readOnly ? ',readonly=on' : ''}`,
      '-device', `virtio-blk-pci,drive=tsxendisk${i},serial=tsxen-disk${i}`,
    );
  }
  return args;
}

function qemuArgs(rig: RigPaths, initrd: string, opts: RigOptions): string[] {
  return [
    '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot', ...hostDeviceArgs(opts),
    '-m', String(opts.memoryMiB ?? 1024),
    // TCG only (no -accel kvm), one vCPU; +rdrand seeds dom0's CRNG early;
    // +svm,+npt let Xen run HVM/PVH guests with hardware-assisted paging.
    '-cpu', 'qemu64,+rdrand,+svm,+npt',
    '-kernel', rig.xen,
    '-initrd', `${esc(rig.vmlinux)} ${DOM0_CMDLINE},${esc(initrd)}`,
    '-append', XEN_CMDLINE,
  ];
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.once('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

async function stopQemu(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if ((await waitForExit(child, 3000)) === null && child.exitCode === null) child.kill('SIGKILL');
}

/** Collects what dom0 reports on the serial line into results. */
class SerialParser {
  readonly results = new Map<string, ScenarioResult>();
  readonly marks: Record<string, number> = {};
  outcome: RunOutcome | null = null;
  failure?: string;

  constructor(scenarios: Scenario[], private readonly opts: RigOptions) {
    for (const s of scenarios) {
      this.results.set(s.name, {
        name: s.name, reason: 'not-run', console: [], checkRc: null, checkRunningRc: null,
        checkStoppedRc: null, checkOutput: [], domid: null, restarts: 0, elapsedMs: 0, reported: false, lostLines: 0,
      });
    }
  }

  line(text: string, atMs: number): void {
    let m: RegExpMatchArray | null;
    if ((m = text.match(/^TSXEN-CONSOLE ([a-z0-9-]+)\| ?(.*)$/))) {
      this.results.get(m[1])?.console.push(m[2]);
      this.opts.onConsole?.(m[1], m[2]);
    } else if ((m = text.match(/^TSXEN-CHECK ([a-z0-9-]+)\| ?(.*)$/))) {
      this.results.get(m[1])?.checkOutput.push(m[2]);
    } else if ((m = text.match(/^TSXEN-RIG ([a-z0-9-]+) (created|restarted|error|result) ?(.*)$/))) {
      this.scenarioEvent(m[1], m[2], m[3]);
    } else if (text === 'TSXEN-RIG all-done') {
      this.outcome = 'done';
    } else if ((m = text.match(/^TSXEN-RIG fatal (.*)$/))) {
      this.fail('fatal', m[1]);
    } else if ((m = text.match(/^MARK (\S+)/))) {
      this.marks[m[1]] = atMs;
    } else if (PANIC_RE.test(text)) {
      this.fail('panic', text);
    }
  }

  private fail(outcome: RunOutcome, failure: string): void {
    if (this.outcome !== null) return;
    this.outcome = outcome;
    this.failure = failure;
  }

  private scenarioEvent(name: string, kind: string, rest: string): void {
    const r = this.results.get(name);
    if (r === undefined) return;
    if (kind === 'error') {
      r.error = r.error === undefined ? rest : `${r.error}; ${rest}`;
      return;
    }
    const kv = Object.fromEntries(rest.split(' ').map((w) => w.split('=', 2)));
    const rc = (v: string | undefined): number | null => (v === undefined || v === 'none' ? null : Number(v));
    if (kind === 'created') {
      r.domid = rc(kv.domid);
      return;
    }
    if (kind === 'restarted') {
      r.restarts++;
      r.domid = rc(kv.domid);
      return;
    }
    r.reason = toReason(kv.reason);
    r.checkRc = rc(kv.check);
    r.checkRunningRc = rc(kv.check_running);
    r.checkStoppedRc = rc(kv.check_stopped);
    r.elapsedMs = Number(kv.elapsed_ms ?? 0);
    r.reported = true;
    // dom0 counts what it sent; every one of those lines comes before this one
    const sent = Number(kv.console_lines ?? r.console.length) + Number(kv.check_lines ?? r.checkOutput.length);
    r.lostLines = Math.max(0, sent - r.console.length - r.checkOutput.length);
    if (r.lostLines > 0) this.scenarioEvent(name, 'error', `${r.lostLines} of its ${sent} console and check lines were lost on the serial line`);
  }
}

function toReason(raw: string | undefined): ShutdownReason {
  const known: ShutdownReason[] = ['poweroff', 'reboot', 'crash', 'suspend', 'watchdog', 'timeout', 'destroyed', 'not-run'];
  return known.find((k) => k === raw) ?? 'unknown';
}

/**
 * Follows a file another process appends to, calling back with each new
 * chunk (polled every TAIL_POLL_MS; stop() reads what is left). QEMU writes
 * the serial line to a file rather than a pipe: a pipe this process does
 * not drain in time (its main thread busy with other tests) stalls QEMU's
 * UART, and then QEMU (after a few retries) and Xen (its transmit buffer
 * full) drop characters: whole report lines went missing that way.
 */
function tailFile(file: string, onChunk: (chunk: Buffer) => void): { stop(): void } {
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(64 * 1024);
  let pos = 0;
  const drain = (): void => {
    for (let n; (n = readSync(fd, buf, 0, buf.length, pos)) > 0; pos += n) onChunk(Buffer.from(buf.subarray(0, n)));
  };
  const timer = setInterval(drain, TAIL_POLL_MS);
  return {
    stop() {
      clearInterval(timer);
      drain();
      closeSync(fd);
    },
  };
}

/** Splits a byte stream into lines, calling back per complete line (CR stripped). */
function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer): void; flush(): void } {
  let pending = '';
  // a chunk may end inside a UTF-8 sequence: the decoder keeps its first bytes for the next one
  const decoder = new StringDecoder('utf8');
  const emit = (l: string): void => onLine(l.replace(/\r+$/, ''));
  return {
    push(chunk) {
      pending += decoder.write(chunk);
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(emit);
    },
    flush() {
      pending += decoder.end();
      if (pending !== '') emit(pending);
      pending = '';
    },
  };
}

function stamp(ms: number): string {
  return `[${(ms / 1000).toFixed(3).padStart(8)}] `;
}

async function bootAndCollect(
  rig: RigPaths, initrd: string, scenarios: Scenario[], totalMs: number, opts: RigOptions, tmp: string,
): Promise<RunResult> {
  const parser = new SerialParser(scenarios, opts);
  const logLines: string[] = [];
  const logFile: WriteStream | null = opts.log ? createWriteStream(opts.log) : null;
  const t0 = performance.now();
  // Serial output and QEMU's own messages go to files (see tailFile); serial
  // input stays a pipe. Its own process group: a Ctrl-C in the terminal goes
  // to tsxen run (which asks the guest to shut down), not straight to QEMU.
  const outFile = path.join(tmp, 'qemu.out');
  const errFile = path.join(tmp, 'qemu.err');
  const outFd = openSync(outFile, 'w');
  const errFd = openSync(errFile, 'w');
  let child: ChildProcess;
  try {
    const [command, args] = opts.nice === undefined ? [QEMU, qemuArgs(rig, initrd, opts)] : ['nice', ['-n', String(opts.nice), QEMU, ...qemuArgs(rig, initrd, opts)]];
    child = spawn(command, args, { stdio: ['pipe', outFd, errFd], detached: true });
  } finally {
    closeSync(outFd);
    closeSync(errFd);
  }
  child.stdin?.on('error', () => undefined);  // QEMU gone: nothing left to command
  opts.onStarted?.();
  // Serial input reaches Xen's own key handler until dom0's reader is up: commands wait for its mark.
  const attachControl = (): void => opts.control?.attach((line) => void child.stdin?.write(line + '\n'));
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let failureDeadline: NodeJS.Timeout | undefined;

  const record = (text: string): void => {
    const at = performance.now() - t0;
    const stamped = stamp(at) + text;
    logLines.push(stamped);
    logFile?.write(stamped + '\n');
    opts.onLine?.(text);
    const before = parser.outcome;
    parser.line(text, Math.round(at));
    if (text.startsWith('MARK commands-ready')) attachControl();
    if (parser.outcome === 'done') finish();
    else if (parser.outcome !== null && before === null) {
      // keep reading a little: dom0 dumps its logs after a fatal error
      failureDeadline = setTimeout(finish, FAILURE_GRACE_MS);
    } else if (parser.outcome !== null && XEN_HALTED_RE.test(text)) finish();
  };
  const out = lineSplitter(record);
  const err = lineSplitter((l) => record(`qemu: ${l}`));
  const outTail = tailFile(outFile, (c) => out.push(c));
  const errTail = tailFile(errFile, (c) => err.push(c));
  let tailsStopped = false;
  const stopTails = (): void => {
    if (tailsStopped) return;
    tailsStopped = true;
    outTail.stop();
    errTail.stop();
    out.flush();
    err.flush();
  };
  child.once('exit', () => {
    stopTails();
    if (parser.outcome === null) parser.outcome = 'qemu-exited';
    finish();
  });
  child.once('error', (e) => {
    record(`qemu: ${e.message}`);
    if (parser.outcome === null) parser.outcome = 'qemu-exited';
    finish();
  });
  const overall = setTimeout(() => {
    if (parser.outcome === null) parser.outcome = 'timeout';
    finish();
  }, totalMs);

  await finished;
  opts.control?.attach(null);
  clearTimeout(overall);
  clearTimeout(failureDeadline);
  await stopQemu(child);
  stopTails();
  process.removeListener('exit', killOnExit);
  if (logFile) await new Promise<void>((resolve) => logFile.end(resolve));

  return {
    results: [...parser.results.values()],
    serialLog: logLines.join('\n') + '\n',
    bootMs: parser.marks['toolstack-up'] ?? null,
    totalMs: Math.round(performance.now() - t0),
    outcome: parser.outcome ?? 'timeout',
    failure: parser.failure,
    marks: parser.marks,
  };
}
