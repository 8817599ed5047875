// The sim's console backend, playing xenconsoled: drains the `out` ring of
// the console page (runtime/abi/console.ts) when the guest notifies it.
import * as C from "../runtime/abi/console.ts";

export class ConsoleBackend {
  private bytes: number[] = [];
  // A backend that stopped reading (xenconsoled gone): lets tests check that
  // the guest never waits forever on a full ring.
  stalled = false;
  // Also hands every byte to `onOutput` as it arrives (tsxen sim shows the
  // console live).
  onOutput: ((bytes: Uint8Array) => void) | null = null;

  constructor(private readonly view: () => DataView, private readonly page: number) {}

  // Called on an event on the console channel.
  drain(): void {
    if (this.stalled) return;
    const v = this.view();
    let cons = v.getUint32(this.page + C.XENCONS_OUT_CONS, true);
    const prod = v.getUint32(this.page + C.XENCONS_OUT_PROD, true);
    if (((prod - cons) >>> 0) > C.XENCONS_OUT_SIZE) throw new Error("console ring: producer ran more than a ring ahead");
    const start = this.bytes.length;
    while (cons !== prod) {
      this.bytes.push(v.getUint8(this.page + C.XENCONS_OUT + (cons & (C.XENCONS_OUT_SIZE - 1))));
      cons = (cons + 1) >>> 0;
    }
    v.setUint32(this.page + C.XENCONS_OUT_CONS, cons, true);
    if (this.onOutput && this.bytes.length > start) this.onOutput(Uint8Array.from(this.bytes.slice(start)));
  }

  append(bytes: Uint8Array): void {
    this.bytes.push(...bytes);
    this.onOutput?.(bytes);
  }

  text(): string {
    return Buffer.from(this.bytes).toString("utf8");
  }

  // Bytes written so far, and the text from byte `from` on (cheap for a
  // long-running guest: only the tail is decoded).
  get length(): number {
    return this.bytes.length;
  }

  textFrom(from: number): string {
    return Buffer.from(this.bytes.slice(from)).toString("utf8");
  }
}
