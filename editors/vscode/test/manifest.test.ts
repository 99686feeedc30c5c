// The manifest and the code agree: commands, languages, settings the code reads.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

import { COMMANDS, SERVER_COMMANDS } from "../src/commands";
import { documentSelector, languagesOf } from "../src/documents";

// Tests run from out/test/; the manifest is two folders up.
const manifest = JSON.parse(
  fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf-8"),
) as {
  activationEvents: string[];
  contributes: {
    commands: { command: string }[];
    configuration: { properties: Record<string, { default?: unknown }> };
  };
};

describe("package.json", () => {
  it("contributes exactly the commands the extension registers", () => {
    const contributed = manifest.contributes.commands.map((c) => c.command).sort();
    assert.deepEqual(contributed, Object.values(COMMANDS).sort());
  });

  it("uses command ids the language client does not register for the server", () => {
    for (const id of Object.values(COMMANDS)) {
      assert.ok(!SERVER_COMMANDS.includes(id), id);
    }
  });

  it("declares the extension's own settings with their defaults", () => {
    const properties = manifest.contributes.configuration.properties;
    assert.equal(properties["assist.server.path"]?.default, "assist-server");
    assert.deepEqual(properties["assist.server.args"]?.default, ["--stdio"]);
    assert.equal(properties["assist.trace.server"]?.default, "messages");
  });

  it("serves the languages it activates on, on disk and untitled", () => {
    const languages = languagesOf(manifest.activationEvents);
    assert.ok(languages.includes("python"));
    assert.deepEqual(documentSelector(["go"]), [
      { scheme: "file", language: "go" },
      { scheme: "untitled", language: "go" },
    ]);
  });
});

describe("languagesOf", () => {
  it("reads onLanguage events only", () => {
    assert.deepEqual(languagesOf(["onLanguage:rust", "onCommand:x", "onLanguage:", 3]), ["rust"]);
    assert.deepEqual(languagesOf(undefined), []);
  });
});
