// Entry of the test suite's asc worker threads (tests/sim/helpers.ts):
// module hooks registered on the main thread do not reach workers (Node 20),
// so register ours again, then run the TypeScript worker.
import { register } from "node:module";
register("../../tools/ts-hooks.mjs", import.meta.url);
await import("./asc-worker.ts");
