// Test app: a transaction that reads data/counter and writes it back + 1
// along with a copy, retried by xs.transact() while the commit says EAGAIN.
import { log } from "tsxen";
import * as xs from "tsxen/xenstore/client";
import { TransactionBody } from "tsxen/xenstore/client";

class Increment extends TransactionBody {
  attempts: i32 = 0;
  run(tx: u32): string | null {
    this.attempts++;
    const r = xs.read("data/counter", tx);
    const n = r.error === null ? I32.parseInt(r.text()) : 0;
    const err = xs.write("data/counter", (n + 1).toString(), tx).error;
    if (err !== null) return err;
    return xs.write("data/copy", (n + 1).toString(), tx).error;
  }
}

export function main(): void {
  const body = new Increment();
  const err = xs.transact(body);
  log("tx: " + (err !== null ? "error " + err! : "committed") + " after " + body.attempts.toString() + " attempts");
  log("tx: counter " + xs.read("data/counter").text() + " copy " + xs.read("data/copy").text());
}
