// Test app: its xenstored stops answering. The first request fails after
// the request timeout, the connection is then reported dead, and later
// requests fail at once instead of waiting out the timeout again.
import { log, monotonicNs } from "tsxen";
import * as xs from "tsxen/xenstore/client";

function timed(what: string): void {
  const t0 = monotonicNs();
  const r = xs.read("name");
  const ms = (monotonicNs() - t0) / 1_000_000;
  log("xs-dead: " + what + " " + (r.error !== null ? r.error! : "ok") + " after " + ms.toString() + " ms; connection " + (xs.connectionError() !== null ? "dead: " + xs.connectionError()! : "ok"));
}

export function main(): void {
  timed("first read");
  timed("second read");
}
