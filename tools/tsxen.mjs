#!/usr/bin/env node
// The tsxen command: the CLI is TypeScript (tools/cli.ts), loaded through
// our TypeScript hooks. Errors a user can fix print as one message (exit 2).
import { register } from "node:module";
register("./ts-hooks.mjs", import.meta.url);
const { main, userError } = await import("./cli.ts");
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  const message = userError(e);
  if (message === null) throw e;
  console.error(`tsxen: ${message}`);
  process.exitCode = 2;
}
