// Shared by the test apps: a seeded xorshift32 generator (reproducible
// runs), "name=value" arguments from the guest's command line, and the
// UDP echo service (port 7) the network tests talk to.
import { startInfo } from "tsxen";
import { NetStack, UdpHandler } from "tsxen/drivers/net/stack";

// Sends every datagram back where it came from.
export class UdpEcho extends UdpHandler {
  onDatagram(stack: NetStack, srcIp: u32, srcPort: u16, dstPort: u16, data: usize, len: i32): void {
    stack.sendTo(srcIp, srcPort, dstPort, data, len);
  }
}

let state: u32 = 1;

export function seedRandom(seed: u32): void {
  state = seed | 1; // xorshift never leaves 0
}

export function rand(): u32 {
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

// A random number in [0, n).
export function below(n: u64): u64 {
  return n == 0 ? 0 : ((<u64>rand() << 32) | <u64>rand()) % n;
}

// The integer after "name=" on the command line, or `fallback`.
export function arg(name: string, fallback: i32): i32 {
  const words = startInfo().cmdLine.split(" ");
  for (let i = 0; i < words.length; i++) if (words[i].startsWith(name + "=")) return I32.parseInt(words[i].substr(name.length + 1));
  return fallback;
}
