// The Node side (tools/, sim/, tests/) type-checks under tsconfig.json.
// (The ts-hooks loader strips types without checking them.)
import test from "tape";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

test("typecheck: tsc --noEmit -p tsconfig.json reports no errors", async (t) => {
  const { stdout, stderr } = await promisify(execFile)("node_modules/.bin/tsc", ["-p", "tsconfig.json"]).catch(
    (e: { stdout: string; stderr: string }) => e,
  );
  t.equal(`${stdout}${stderr}`.trim(), "", "no diagnostics");
});
