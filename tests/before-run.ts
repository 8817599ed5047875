// Work a test file wants done or started before tape runs the first test:
// tests/run.ts calls every hook once all test files are loaded, and waits
// for the promises they return. The real-Xen tests build their images here
// (asc in worker threads, gcc in processes, nothing else running) and leave
// the rig booting in the background while the unit and sim tests run
// (QEMU's TCG thread and the test process then share the machine's cores).
export const beforeRun: (() => Promise<void> | void)[] = [];
