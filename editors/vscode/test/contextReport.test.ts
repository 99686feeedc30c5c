import * as assert from "node:assert/strict";
import { describe, it } from "node:test";

import { contextArguments, contextMarkdown } from "../src/contextReport";

describe("contextArguments", () => {
  it("is one object with the document and the cursor", () => {
    assert.deepEqual(contextArguments("file:///a.py", { line: 3, character: 7 }), [
      { textDocument: { uri: "file:///a.py" }, position: { line: 3, character: 7 } },
    ]);
  });
});

describe("contextMarkdown", () => {
  const report = {
    snippets: [
      {
        path: "shop/money.py",
        start_line: 3,
        end_line: 14,
        source: "usage",
        score: 0.5,
        tokens: 80,
      },
      { path: "a|b.py", start_line: 1, end_line: 2, source: "lexical", score: 0.1, tokens: 9 },
    ],
    prompt_tokens: 412,
  };

  it("lists the snippets in a table with 1-based cursor position", () => {
    const text = contextMarkdown(report, "shop/cart.py", { line: 9, character: 4 });
    assert.match(text, /At shop\/cart\.py, line 10, column 5\./);
    assert.match(text, /\| shop\/money\.py \| 3-14 \| usage \| 0\.5 \| 80 \|/);
    assert.match(text, /\| a\\\|b\.py \|/);
    assert.match(text, /Prompt: about 412 tokens\./);
    assert.match(text, /```json\n\{\n {2}"snippets"/);
  });

  it("says why nothing would be asked", () => {
    const text = contextMarkdown(
      { snippets: [], prompt_tokens: 0, skipped: "inside a word" },
      "a.py",
      { line: 0, character: 0 },
    );
    assert.match(text, /No completion would be asked here: inside a word\./);
    assert.doesNotMatch(text, /\| file \|/);
  });

  it("says when no other file contributes", () => {
    const text = contextMarkdown({ snippets: [], prompt_tokens: 50 }, "a.py", {
      line: 0,
      character: 0,
    });
    assert.match(text, /No code from other files/);
  });

  it("survives an answer of another shape", () => {
    const text = contextMarkdown(null, "a.py", { line: 0, character: 0 });
    assert.match(text, /```json\nnull\n```/);
  });
});
