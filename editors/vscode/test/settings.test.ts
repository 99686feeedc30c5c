import * as assert from "node:assert/strict";
import { describe, it } from "node:test";

import { configurationAnswers, needsRestart, serverSettings, toJson } from "../src/settings";

describe("serverSettings", () => {
  it("keeps the server's nested settings and drops the extension's groups", () => {
    const section = {
      backend: { kind: "openai", url: "http://127.0.0.1:8000/v1" },
      completion: { model: "m", fimTemplate: { prefix: "<P>", suffix: "<S>", middle: "<M>" } },
      index: { exclude: ["dist/"] },
      server: { path: "assist-server", args: ["--stdio"] },
      trace: { server: "off" },
    };
    assert.deepEqual(serverSettings(section), {
      backend: { kind: "openai", url: "http://127.0.0.1:8000/v1" },
      completion: { model: "m", fimTemplate: { prefix: "<P>", suffix: "<S>", middle: "<M>" } },
      index: { exclude: ["dist/"] },
    });
  });

  it("drops the extension's dotted keys too", () => {
    const got = serverSettings({
      "server.path": "x",
      "assist.server.args": [],
      "trace.server": "verbose",
      "backend.kind": "ollama",
      "assist.chat.model": "c",
    });
    assert.deepEqual(got, { "backend.kind": "ollama", "assist.chat.model": "c" });
  });

  it("is always an object the server accepts", () => {
    for (const value of [undefined, null, 3, "x", ["a"]]) {
      assert.deepEqual(serverSettings(value), {});
    }
  });

  it("copies plain JSON, without methods or undefined values", () => {
    const config = { backend: { kind: "ollama", extra: undefined }, get: () => 1, has: () => true };
    const got = serverSettings(config);
    assert.deepEqual(got, { backend: { kind: "ollama" } });
    config.backend.kind = "openai";
    assert.deepEqual(got, { backend: { kind: "ollama" } });
  });

  it("turns non-finite numbers into nothing", () => {
    assert.equal(toJson(Number.NaN), undefined);
    assert.deepEqual(toJson([1, Infinity]), [1, null]);
  });
});

describe("configurationAnswers", () => {
  it("filters the assist section and passes other sections through", () => {
    const items = [{ section: "assist" }, { section: "editor" }, {}];
    const answers = [
      { server: { path: "p" }, chat: { model: "c" } },
      { tabSize: 4 },
      { assist: { server: { path: "p" }, backend: { kind: "ollama" } }, editor: { tabSize: 4 } },
    ];
    assert.deepEqual(configurationAnswers(items, answers), [
      { chat: { model: "c" } },
      { tabSize: 4 },
      { assist: { backend: { kind: "ollama" } }, editor: { tabSize: 4 } },
    ]);
  });
});

describe("needsRestart", () => {
  it("restarts for the server's start settings and the initialize-only setting", () => {
    assert.ok(needsRestart((key) => key === "assist.server"));
    assert.ok(needsRestart((key) => key === "assist.completion.asCompletionItem"));
    assert.ok(!needsRestart((key) => key === "assist.backend"));
  });
});
