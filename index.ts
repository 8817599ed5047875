// The tsxen package's AssemblyScript entry: what apps get from
// `import { … } from "tsxen"`. (The Node tooling lives in tools/.)
export * from "./runtime/index";
