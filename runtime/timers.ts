// One-shot timers on the event loop: due timers run from the loop
// (loop.ts), which blocks no longer than the earliest deadline. A timer
// whose handler is running (it blocked; handler.ts) waits until it returns.
// A Timer object can be armed again and again (armTimer): re-arming
// allocates nothing.
import { monotonicNs } from "./time";
import { Handler } from "./handler";

export abstract class TimerHandler extends Handler {
  abstract onTimer(timer: Timer): void;
}

export class Timer {
  active: bool = false;   // armed and not yet run or cancelled
  constructor(public handler: TimerHandler, public deadlineNs: u64 = 0) {}
}

const timers = new Array<Timer>();

// Runs `timer`'s handler once, `delayNs` from now (moving it if it was
// already armed).
export function armTimer(timer: Timer, delayNs: u64): void {
  timer.deadlineNs = monotonicNs() + delayNs;
  if (timer.active) return;
  timer.active = true;
  timers.push(timer);
}

// Runs `handler` once, `delayNs` from now. Cancel with cancelTimer.
export function setTimer(delayNs: u64, handler: TimerHandler): Timer {
  const t = new Timer(handler);
  armTimer(t, delayNs);
  return t;
}

function remove(at: i32): void {
  for (let j = at + 1; j < timers.length; j++) unchecked(timers[j - 1] = timers[j]);
  timers.length = timers.length - 1;
}

export function cancelTimer(t: Timer): void {
  if (!t.active) return;
  t.active = false;
  const i = timers.indexOf(t);
  if (i >= 0) remove(i);
}

export function activeTimers(): i32 {
  return timers.length;
}

// The earliest deadline, or 0 when no timer is set.
export function nextDeadline(): u64 {
  let next: u64 = 0;
  for (let i = 0; i < timers.length; i++) {
    if (timers[i].handler.running) continue; // cannot run before that call returns
    const d = timers[i].deadlineNs;
    if (next == 0 || d < next) next = d;
  }
  return next;
}

// Runs every timer whose deadline has passed. Returns how many ran.
export function runDueTimers(): i32 {
  let ran = 0;
  const now = monotonicNs();
  // At most as many runs as timers were set on entry: a handler that sets
  // a timer due at once does not keep this pass going.
  const limit = timers.length;
  for (let i = 0; i < timers.length && ran < limit; ) {
    const t = timers[i];
    const h = t.handler;
    if (t.deadlineNs <= now && !h.running) {
      remove(i);
      t.active = false;
      h.running = true;
      h.onTimer(t);
      h.running = false;
      ran++;
      i = 0; // the handler may have set or cancelled timers: look again from the start
    } else {
      i++;
    }
  }
  return ran;
}
