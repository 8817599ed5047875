// One-shot timers on the event loop: due timers run from the loop
// (loop.ts), which blocks no longer than the earliest deadline.
import { monotonicNs } from "./time";

export abstract class TimerHandler {
  abstract onTimer(timer: Timer): void;
}

export class Timer {
  active: bool = true;
  constructor(public deadlineNs: u64, public handler: TimerHandler) {}
}

const timers = new Array<Timer>();

// Runs `handler` once, `delayNs` from now. Cancel with cancelTimer.
export function setTimer(delayNs: u64, handler: TimerHandler): Timer {
  const t = new Timer(monotonicNs() + delayNs, handler);
  timers.push(t);
  return t;
}

export function cancelTimer(t: Timer): void {
  t.active = false;
  const i = timers.indexOf(t);
  if (i >= 0) timers.splice(i, 1);
}

export function activeTimers(): i32 {
  return timers.length;
}

// The earliest deadline, or 0 when no timer is set.
export function nextDeadline(): u64 {
  let next: u64 = 0;
  for (let i = 0; i < timers.length; i++) {
    const d = timers[i].deadlineNs;
    if (next == 0 || d < next) next = d;
  }
  return next;
}

// Runs every timer whose deadline has passed. Returns how many ran.
export function runDueTimers(): i32 {
  let ran = 0;
  const now = monotonicNs();
  for (let i = 0; i < timers.length; ) {
    const t = timers[i];
    if (t.deadlineNs <= now) {
      timers.splice(i, 1);
      t.active = false;
      t.handler.onTimer(t);
      ran++;
    } else {
      i++;
    }
  }
  return ran;
}
