// `node --import ./tools/ts-register.mjs file.ts` runs TypeScript directly (see ts-hooks.mjs).
import { register } from "node:module";
register("./ts-hooks.mjs", import.meta.url);
