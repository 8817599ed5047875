// Entry of tsxen sim's worker thread: module hooks registered on the main
// thread do not reach workers (Node 20), so register ours again, then run
// the TypeScript worker.
import { register } from "node:module";
register("./ts-hooks.mjs", import.meta.url);
await import("./sim-worker.ts");
