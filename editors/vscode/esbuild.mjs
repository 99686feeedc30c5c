// Bundle the extension and vscode-languageclient into one file, so the .vsix needs no
// node_modules (vsce package --no-dependencies) and loads fast.
import { build } from "esbuild";

await build({
  entryPoints: ["src/extension.ts"],
  outfile: "dist/extension.js",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20", // the Node of VS Code 1.91, the oldest VS Code the extension supports
  external: ["vscode"],
  sourcemap: true,
  logLevel: "warning",
});
