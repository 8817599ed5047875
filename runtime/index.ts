// The tsxen runtime API for apps: `import { … } from "tsxen"`.
export { log, write } from "./log";
export { exit } from "./exit";
export { startInfo, StartInfo, MemoryRegion } from "./start_info";
export { consoleWrite, consoleFlush, consoleDroppedBytes } from "./console";
export { panic } from "./panic";
export { random32, random64, randomBelow, randomBytes, randomSource } from "./random";
export { monotonicNs, wallClockNs } from "./time";
export { bootTimeNs } from "./boot_time";
export { Timer, TimerHandler, setTimer, armTimer, cancelTimer } from "./timers";
export { Condition, Task, defer, waitFor, sleep, runLoop, stopLoop, runOnce } from "./loop";
export {
  EventHandler, allocUnbound, bindInterdomain, bindVirq, notify, unmask, close, register, unregister,
} from "./events";
export {
  Closable, ShutdownHandler, registerClosable, unregisterClosable, onShutdownRequest, shutdownRequested,
  shutdownDomain, startLifecycle, SHUTDOWN_poweroff, SHUTDOWN_reboot, SHUTDOWN_crash,
} from "./lifecycle";
export { SuspendHandler, onSuspendResume, suspendCount, resumeCount } from "./suspend";
export {
  StatsSource, registerStats, publishStats, publishStatsEvery, publishStatsOnRequest, statsPublished, statsFailedWrites,
} from "./stats";
export { MemoryStats, memoryStats, collect } from "./memory";
export { grantTableInit, grantAccess, grantPage, endAccess, grantsInUse, grantFlags, pageMfn } from "../grant-tables/index";
// xenstore and xenbus are namespaces: import * as xenstore from "tsxen/xenstore/client",
// import * as xenbus from "tsxen/xenstore/xenbus".
