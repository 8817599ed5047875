// The tsxen runtime API for apps: `import { log, exit, startInfo } from "tsxen"`.
export { log, write } from "./log";
export { exit } from "./exit";
export { startInfo, StartInfo } from "./start_info";
export { consoleWrite, consoleFlush, consoleDroppedBytes } from "./console";
export { panic } from "./panic";
