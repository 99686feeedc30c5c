// Lint with typescript-eslint's type-aware rules; the pure modules may not import "vscode" (their
// tests run in plain Node).
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["out/", "dist/", "node_modules/", "*.vsix"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      eqeqeq: "error",
    },
  },
  {
    files: ["src/**/*.ts"],
    ignores: ["src/extension.ts", "src/views.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            { name: "vscode", message: "pure module: its tests run without VS Code" },
            {
              name: "vscode-languageclient",
              message: "pure module: its tests run without VS Code",
            },
            {
              name: "vscode-languageclient/node",
              message: "pure module: its tests run without VS Code",
            },
          ],
        },
      ],
    },
  },
  {
    // node:test's describe() and it() return promises that the runner itself awaits.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-floating-promises": "off" },
  },
  {
    files: ["*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { console: "readonly", process: "readonly" } },
  },
);
