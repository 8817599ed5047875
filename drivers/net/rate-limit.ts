// A token bucket: at most `burst` events at once and `perSecond` on
// average. Bounds what a peer can make us send (ICMP errors, RFC 1812
// §4.3.2.8; TCP resets and RFC 5961 challenge ACKs, §7).
export class TokenBucket {
  tokens: i64;
  last: u64 = 0;
  constructor(public perSecond: i64, public burst: i64) {
    this.tokens = burst;
  }

  // Whether one more event may happen now (and if so, takes a token).
  take(now: u64): bool {
    if (this.last == 0) this.last = now;
    const elapsed = now - this.last;
    const earned = <i64>(elapsed / (1_000_000_000 / <u64>max<i64>(this.perSecond, 1)));
    if (earned > 0) {
      this.tokens = min(this.burst, this.tokens + earned);
      this.last += <u64>earned * (1_000_000_000 / <u64>max<i64>(this.perSecond, 1));
    }
    if (this.tokens <= 0) return false;
    this.tokens--;
    return true;
  }
}
