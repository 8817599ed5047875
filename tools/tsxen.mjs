#!/usr/bin/env node
// The tsxen command: the CLI is TypeScript (tools/cli.ts), loaded through
// our TypeScript hooks.
import { register } from "node:module";
register("./ts-hooks.mjs", import.meta.url);
await import("./cli.ts");
