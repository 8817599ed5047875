// The one re-entrancy rule of the runtime, for every callback object an app
// or a driver hands it (event, timer, watch, frame, datagram and block
// handlers, deferred tasks):
//
//   A handler is never re-entered. While its call runs, the runtime does
//   not call the same handler object again; what would have called it
//   waits (the port stays pending, the timer due, the task queued, the
//   frames in the ring) and is delivered once the call has returned.
//   Blocking inside a handler (a xenstore request, readSync, sleep,
//   waitFor) is allowed: the loop keeps serving everything else meanwhile,
//   drivers' own ring processing included.
//
// So a handler can block, but cannot wait for its own next call: a
// datagram handler that waits for another datagram on the same socket
// waits until its timeout.
export abstract class Handler {
  // True while the runtime is inside a call of this handler.
  running: bool = false;
}
