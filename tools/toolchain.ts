// Finds the external programs tsxen build needs, and says which Debian
// package provides each one when it is missing.
import { accessSync, constants } from "node:fs";

export interface Tool {
  command: string;
  debianPackage: string;
  purpose: string;
}

export const TOOLS: Record<string, Tool> = {
  nasm: { command: "nasm", debianPackage: "nasm", purpose: "assembles the boot shim" },
  wasm2c: { command: "wasm2c", debianPackage: "wabt", purpose: "translates wasm to C" },
  gcc: { command: "gcc", debianPackage: "gcc", purpose: "compiles the C to native code" },
  ld: { command: "ld", debianPackage: "binutils", purpose: "links the image" },
  objcopy: { command: "objcopy", debianPackage: "binutils", purpose: "strips the image" },
};

export class MissingToolError extends Error {
  constructor(readonly tool: Tool) {
    super(
      `${tool.command} not found (it ${tool.purpose}). Install it with: apt-get install ${tool.debianPackage}`,
    );
  }
}

export function findTool(name: keyof typeof TOOLS, search: string = process.env.PATH ?? ""): string {
  const tool = TOOLS[name];
  for (const dir of search.split(":")) {
    if (!dir) continue;
    try {
      accessSync(`${dir}/${tool.command}`, constants.X_OK);
      return `${dir}/${tool.command}`;
    } catch {
      // not in this directory
    }
  }
  throw new MissingToolError(tool);
}
