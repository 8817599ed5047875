// Work a test file wants started as soon as every test file is loaded, not
// when its first test runs: tests/run.ts calls each hook (without waiting)
// before tape runs the first test. The real-Xen tests use it to build their
// images and boot the rig while the unit and sim tests run (QEMU's TCG
// thread and Node's main thread then share the machine's cores).
export const beforeRun: (() => void)[] = [];
