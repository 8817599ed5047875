// Initial sequence numbers and SYN cookies.
//
// ISN (RFC 6528 §3): ISN = M + F(localip, localport, remoteip, remoteport,
// secretkey), M a timer ticking every 4 µs, F SipHash-2-4 under a 128-bit
// key drawn once from runtime/random. The timestamp clock of each
// connection gets an offset from the same hash (RFC 7323 §5.4: the
// timestamps of different connections do not tell how long we have been up).
//
// SYN cookies (the construction RFC 4987 §3.6 describes, our own
// encoding): when a listener's backlog of half-open connections is full,
// the SYN-ACK's sequence number encodes the connection instead of a table
// entry:
//   bits 31..27  t mod 32, t = seconds / 64
//   bits 26..0   SipHash(key, addresses, ports, the peer's ISN, t) + MSS index (0..7), mod 2^27
// An ACK whose ack - 1 decodes with t no more than 2 periods old and an
// index below 8 opens the connection. Window scale and SACK-permitted,
// which the sequence number has no room for, ride in the low 5 bits of
// our SYN-ACK's timestamp (4 bits shift, 15 = none; 1 bit SACK) and come
// back in the ACK's echo; without timestamps the connection goes without
// them (as Linux does).
import { siphash2 } from "../../runtime/siphash";
import { random64 } from "../../runtime/random";

export const COOKIE_MSS: StaticArray<i32> = [536, 1200, 1380, 1440, 1452, 1460, 4036, 8960];
const COOKIE_PERIOD_NS: u64 = 64_000_000_000;

export class SynSecrets {
  isnK0: u64;
  isnK1: u64;
  cookieK0: u64;
  cookieK1: u64;

  constructor() {
    this.isnK0 = random64();
    this.isnK1 = random64();
    this.cookieK0 = random64();
    this.cookieK1 = random64();
  }

  private tupleHash(k0: u64, k1: u64, localIp: u32, localPort: u32, remoteIp: u32, remotePort: u32, extra: u64): u64 {
    return siphash2(k0, k1, (<u64>localIp << 32) | <u64>remoteIp, (<u64>((localPort << 16) | remotePort) << 32) ^ extra);
  }

  // RFC 6528's ISN for a connection, at monotonic time `now`.
  isn(localIp: u32, localPort: u32, remoteIp: u32, remotePort: u32, now: u64): u32 {
    return <u32>(now / 4000) + <u32>this.tupleHash(this.isnK0, this.isnK1, localIp, localPort, remoteIp, remotePort, 0);
  }

  // The per-connection timestamp offset.
  tsOffset(localIp: u32, localPort: u32, remoteIp: u32, remotePort: u32): u32 {
    return <u32>(this.tupleHash(this.isnK0, this.isnK1, localIp, localPort, remoteIp, remotePort, 1) >> 32);
  }

  // Our SYN-ACK's sequence number for a SYN (peer ISN `peerIsn`) asking for `mss`.
  cookie(localIp: u32, localPort: u32, remoteIp: u32, remotePort: u32, peerIsn: u32, mss: i32, now: u64): u32 {
    let index = 0;
    for (let i = 0; i < COOKIE_MSS.length; i++) if (COOKIE_MSS[i] <= mss) index = i;
    const t = <u32>(now / COOKIE_PERIOD_NS);
    const h = <u32>this.tupleHash(this.cookieK0, this.cookieK1, localIp, localPort, remoteIp, remotePort, (<u64>peerIsn << 32) | <u64>t);
    return ((t & 31) << 27) | ((h + <u32>index) & 0x07ffffff);
  }

  // The MSS a cookie (our ISN, the ACK's ack - 1) was made for, or 0 if it is not one of ours or too old.
  checkCookie(localIp: u32, localPort: u32, remoteIp: u32, remotePort: u32, peerIsn: u32, cookie: u32, now: u64): i32 {
    const nowT = <u32>(now / COOKIE_PERIOD_NS);
    const t5 = cookie >> 27;
    for (let age: u32 = 0; age <= 2; age++) {
      const t = nowT - age;
      if ((t & 31) != t5) continue;
      const h = <u32>this.tupleHash(this.cookieK0, this.cookieK1, localIp, localPort, remoteIp, remotePort, (<u64>peerIsn << 32) | <u64>t);
      const index = ((cookie & 0x07ffffff) - h) & 0x07ffffff;
      if (index < <u32>COOKIE_MSS.length) return COOKIE_MSS[index];
    }
    return 0;
  }
}

// The low 5 bits of a cookie SYN-ACK's timestamp: window scale (15 = none) and SACK.
export function cookieTsBits(wscale: i32, sackOk: bool): u32 {
  return (<u32>(wscale < 0 ? 15 : wscale) << 1) | (sackOk ? 1 : 0);
}
