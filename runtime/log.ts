// Logging for apps: UTF-8 text to the guest console, one line per call.
import { consoleWrite } from "./console";

// Encodes into one reusable buffer, so logging allocates nothing per call
// beyond what the caller's string concatenation already did.
let buf: usize = 0;
let bufSize: usize = 0;

export function write(text: string): void {
  const len = <usize>String.UTF8.byteLength(text);
  if (len > bufSize) {
    bufSize = len < 256 ? 256 : len;
    buf = heap.alloc(bufSize);
  }
  String.UTF8.encodeUnsafe(changetype<usize>(text), text.length, buf);
  consoleWrite(buf, <i32>len);
}

export function log(text: string): void {
  write(text + "\n");
}
