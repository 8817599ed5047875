// The event loop: dispatches pending event-channel events, runs due timers
// and runs deferred work; when there is nothing to do it blocks in
// SCHEDOP_poll until an event or the next timer deadline.
import { dispatchPending, block, hasKeepAlivePorts } from "./events";
import { runDueTimers, nextDeadline, activeTimers } from "./timers";
import { monotonicNs } from "./time";

// Something a blocking call waits for (no closures: an object).
export abstract class Condition {
  abstract done(): bool;
}

// Work queued to run from the loop rather than from inside a handler
// (e.g. watch callbacks), so handlers never re-enter each other.
export abstract class Task {
  abstract run(): void;
}

const tasks = new Array<Task>();
let stopRequested = false;

export function defer(task: Task): void {
  tasks.push(task);
}

function runTasks(): i32 {
  let ran = 0;
  while (tasks.length > 0) {
    const t = tasks.shift();
    t.run();
    ran++;
  }
  return ran;
}

// One pass: events, timers, tasks. Blocks (until `deadlineNs`, or the next
// timer if earlier; 0 = no limit) only if the pass found nothing to do.
export function runOnce(deadlineNs: u64): void {
  let work = dispatchPending();
  work += runDueTimers();
  work += runTasks();
  if (work > 0) return;
  let until = nextDeadline();
  if (deadlineNs != 0 && (until == 0 || deadlineNs < until)) until = deadlineNs;
  block(until);
}

// Runs the loop until `cond` holds or `timeoutNs` passes (0 = no limit).
// Returns whether the condition holds.
export function waitFor(cond: Condition, timeoutNs: u64): bool {
  const deadline = timeoutNs == 0 ? 0 : monotonicNs() + timeoutNs;
  while (!cond.done()) {
    if (deadline != 0 && monotonicNs() >= deadline) return false;
    runOnce(deadline);
  }
  return true;
}

// Sleeps for `ns`, handling events meanwhile.
export function sleep(ns: u64): void {
  const deadline = monotonicNs() + ns;
  while (monotonicNs() < deadline) runOnce(deadline);
}

// Ends runLoop() at its next pass.
export function stopLoop(): void {
  stopRequested = true;
}

// Runs until stopLoop(), or until nothing could ever make work: no timers,
// no deferred tasks, no device ports (the runtime's own ports do not count).
export function runLoop(): void {
  stopRequested = false;
  while (!stopRequested && (activeTimers() > 0 || tasks.length > 0 || hasKeepAlivePorts())) runOnce(0);
}
