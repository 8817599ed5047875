// Exit codes of `tsxen run` and `tsxen sim`, so CI can tell outcomes apart
// (README "Exit codes"), and the summary both print with --json.
export const EXIT = {
  poweroff: 0,      // the guest powered off (and printed the --expect line, if one was given)
  crash: 1,         // the guest crashed: trap, panic, exit(n != 0), watchdog
  usage: 2,         // bad command line, a build error, a missing file
  timeout: 3,       // did not shut down by itself: still running after --timeout, stopped by a second
                    // Ctrl-C, or (sim) waiting for an event that can never come
  reboot: 4,        // the guest asked to reboot
  host: 5,          // the host could not run it: QEMU/Xen/dom0 failed, a host port in use, apt missing
  expectMissed: 6,  // the guest shut down without printing the --expect line
} as const;

export type GuestReason = "poweroff" | "reboot" | "crash" | "suspend" | "watchdog" | "timeout" | "blocked" | "destroyed" | "host-failure";

// The exit code for how the guest ended, given whether --expect was asked for and seen.
export function exitCodeFor(reason: GuestReason, expect: { matched: boolean } | null): number {
  if (expect?.matched && reason !== "crash" && reason !== "watchdog" && reason !== "host-failure") return EXIT.poweroff;
  switch (reason) {
    case "poweroff":
    case "suspend":
      return expect ? EXIT.expectMissed : EXIT.poweroff;
    case "reboot":
      return EXIT.reboot;
    case "crash":
    case "watchdog":
      return EXIT.crash;
    case "timeout":
    case "blocked":
    case "destroyed":
      return EXIT.timeout;
    case "host-failure":
      return EXIT.host;
  }
}

// What --json prints (one object on stdout; the console goes to stderr meanwhile).
export interface RunSummary {
  command: "run" | "sim";
  target: string;
  reason: GuestReason;
  exitCode: number;
  expect: { pattern: string; matched: boolean; line: string | null } | null;
  console: string[];
  timings: Record<string, number>;   // milliseconds
  error?: string;
  serialLog?: string;
}

// Splits a byte stream into console lines (CR stripped), calling back per complete line.
export class LineSplitter {
  private pending = "";
  private readonly decoder = new TextDecoder();
  constructor(private readonly onLine: (line: string) => void) {}

  push(bytes: Uint8Array): void {
    this.pending += this.decoder.decode(bytes, { stream: true });
    const lines = this.pending.split("\n");
    this.pending = lines.pop() ?? "";
    for (const l of lines) this.onLine(l.replace(/\r+$/, ""));
  }

  flush(): void {
    if (this.pending !== "") this.onLine(this.pending.replace(/\r+$/, ""));
    this.pending = "";
  }
}
