// The event loop: dispatches pending event-channel events, runs due timers
// and runs deferred work; when there is nothing to do it blocks in
// SCHEDOP_poll until an event or the next timer deadline. Handlers follow
// the rule in handler.ts: never re-entered, free to block (a blocking call
// is a nested loop over runOnce).
import { dispatchPending, block, hasKeepAlivePorts } from "./events";
import { runDueTimers, nextDeadline, activeTimers } from "./timers";
import { monotonicNs } from "./time";
import { Handler } from "./handler";

// Something a blocking call waits for (no closures: an object).
export abstract class Condition {
  abstract done(): bool;
}

// Work queued to run from the loop rather than from inside a handler
// (e.g. watch callbacks), so handlers never run inside each other's
// ring processing. A task stays queued while it is running (it blocked)
// or while ready() says no, keeping its place in the queue.
export abstract class Task extends Handler {
  abstract run(): void;
  ready(): bool { return true; }
}

const tasks = new Array<Task>();
let stopRequested = false;
let holds: i32 = 0;
// Handlers, timers and tasks run so far, by any pass, nested ones included.
let workDone: u64 = 0;

export function defer(task: Task): void {
  tasks.push(task);
}

// Runs the tasks queued now that can run (later ones wait for the next pass).
function runTasks(): i32 {
  let ran = 0;
  for (let n = tasks.length; n > 0 && tasks.length > 0; n--) {
    const t = tasks.shift();
    if (t.running || !t.ready()) {
      tasks.push(t);
      continue;
    }
    t.running = true;
    t.run();
    t.running = false;
    ran++;
  }
  return ran;
}

// One pass: events, timers, tasks. Blocks (until `deadlineNs`, or the next
// timer if earlier; 0 = no limit) only if the pass found nothing to do and
// `mayBlock`.
export function runOnce(deadlineNs: u64, mayBlock: bool = true): void {
  let work = dispatchPending();
  work += runDueTimers();
  work += runTasks();
  workDone += <u64>work;
  if (work > 0 || !mayBlock) return;
  let until = nextDeadline();
  if (deadlineNs != 0 && (until == 0 || deadlineNs < until)) until = deadlineNs;
  block(until);
}

// Runs the loop until `cond` holds or `timeoutNs` passes (0 = no limit).
// Returns whether the condition holds. A condition whose check itself ran
// the loop (e.g. it reads xenstore) may have consumed the very event it
// waits for: then the next pass does not block, and the check runs again.
export function waitFor(cond: Condition, timeoutNs: u64): bool {
  const deadline = timeoutNs == 0 ? 0 : monotonicNs() + timeoutNs;
  let before = workDone;
  while (!cond.done()) {
    if (deadline != 0 && monotonicNs() >= deadline) return false;
    runOnce(deadline, workDone == before);
    before = workDone;
  }
  return true;
}

// Sleeps for `ns`, handling events meanwhile.
export function sleep(ns: u64): void {
  const deadline = monotonicNs() + ns;
  while (monotonicNs() < deadline) runOnce(deadline);
}

// Keeps runLoop() going while held, with no timer, task or port to wait
// for: e.g. a device waiting for its backend to come back, or an app that
// asked to hear of devices attached later. Each holdLoop() is undone by
// one releaseLoop().
export function holdLoop(): void {
  holds++;
}

export function releaseLoop(): void {
  if (holds > 0) holds--;
}

// Ends runLoop() at its next pass.
export function stopLoop(): void {
  stopRequested = true;
}

// Runs until stopLoop(), or until nothing could ever make work: no timers,
// no deferred tasks, no device ports (the runtime's own ports do not
// count), no holds.
export function runLoop(): void {
  stopRequested = false;
  while (!stopRequested && (activeTimers() > 0 || tasks.length > 0 || hasKeepAlivePorts() || holds > 0)) runOnce(0);
}
