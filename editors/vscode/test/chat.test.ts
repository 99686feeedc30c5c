import * as assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  ChatAnswer,
  chatErrorMessage,
  chatMarkdown,
  chatParams,
  isEmpty,
  METHOD_NOT_FOUND,
  REQUEST_CANCELLED,
  type ChatSubject,
} from "../src/chat";

const range = { start: { line: 2, character: 0 }, end: { line: 4, character: 5 } };

describe("chatParams", () => {
  it("sends the question as a user message with the uri, range and progress token", () => {
    assert.deepEqual(chatParams("why?", "file:///a.py", range, "tok"), {
      messages: [{ role: "user", content: "why?" }],
      uri: "file:///a.py",
      range,
      workDoneToken: "tok",
    });
  });

  it("sends an empty selection as the cursor's place", () => {
    const empty = { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } };
    assert.deepEqual(chatParams("q", "u", empty, "t").range, empty);
    assert.ok(isEmpty(empty));
    assert.ok(!isEmpty(range));
  });
});

describe("ChatAnswer", () => {
  it("joins the report messages as they stream in", () => {
    const answer = new ChatAnswer();
    assert.equal(
      answer.progress({ kind: "begin", title: "assist: chat", message: "thinking" }),
      false,
    );
    assert.equal(answer.progress({ kind: "report", message: "Hel" }), true);
    assert.equal(answer.progress({ kind: "report", message: "lo" }), true);
    assert.equal(answer.progress({ kind: "report", percentage: 50 }), false);
    assert.equal(answer.progress({ kind: "end", message: "done" }), false);
    assert.equal(answer.text, "Hello");
    assert.equal(answer.done, false);
  });

  it("takes the request's full content as the answer", () => {
    const answer = new ChatAnswer();
    answer.progress({ kind: "report", message: "Hel" });
    answer.finish({ content: "Hello, world" });
    assert.equal(answer.text, "Hello, world");
    assert.equal(answer.done, true);
    assert.equal(answer.progress({ kind: "report", message: "late" }), false);
  });

  it("keeps the streamed text when the result has no content", () => {
    const answer = new ChatAnswer();
    answer.progress({ kind: "report", message: "partial" });
    answer.finish(null);
    assert.equal(answer.text, "partial");
  });

  it("keeps the text so far when the request fails", () => {
    const answer = new ChatAnswer();
    answer.progress({ kind: "report", message: "so far" });
    answer.fail("Chat failed: boom");
    assert.equal(answer.text, "so far");
    assert.equal(answer.error, "Chat failed: boom");
  });

  it("ignores values that are not progress", () => {
    const answer = new ChatAnswer();
    for (const value of [null, "x", 3, { kind: "report", message: 3 }]) {
      assert.equal(answer.progress(value), false);
    }
    assert.equal(answer.text, "");
  });
});

describe("chatMarkdown", () => {
  const subject: ChatSubject = {
    question: "What does it do?",
    file: "src/a.py",
    languageId: "python",
    range,
    selection: "def f():\n    return 1\n",
  };

  it("shows the question, the selection in a fence, and a waiting line", () => {
    const text = chatMarkdown(subject, new ChatAnswer());
    assert.match(text, /\*\*Question:\*\* What does it do\?/);
    assert.match(text, /\*\*Selection:\*\* src\/a\.py, lines 3-5/);
    assert.match(text, /```python\ndef f\(\):\n {4}return 1\n```/);
    assert.match(text, /Waiting for the model/);
  });

  it("shows the answer as it grows and when done", () => {
    const answer = new ChatAnswer();
    answer.progress({ kind: "report", message: "It returns 1." });
    assert.match(chatMarkdown(subject, answer), /## Answer\n\nIt returns 1\.\n\n_\.\.\._/);
    answer.finish({ content: "It returns 1." });
    const done = chatMarkdown(subject, answer);
    assert.ok(done.endsWith("## Answer\n\nIt returns 1.\n"));
  });

  it("uses a fence longer than the backticks in the selection", () => {
    const text = chatMarkdown({ ...subject, selection: "s = '```'" }, new ChatAnswer());
    assert.match(text, /````python\ns = '```'\n````/);
  });

  it("names the file when nothing is selected, and shows errors", () => {
    const answer = new ChatAnswer();
    answer.fail("Chat cancelled.");
    const cursor = { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } };
    const text = chatMarkdown({ ...subject, range: cursor, selection: "" }, answer);
    assert.match(text, /\*\*File:\*\* src\/a\.py/);
    assert.match(text, /> \*\*Error:\*\* Chat cancelled\./);
  });
});

describe("chatErrorMessage", () => {
  it("explains a server without chat", () => {
    const message = chatErrorMessage({
      code: METHOD_NOT_FOUND,
      message: "Method Not Found: assist/chat",
    });
    assert.match(message, /no chat/);
    assert.match(message, /assist\/chat/);
  });

  it("names cancellation and passes other errors on", () => {
    assert.equal(chatErrorMessage({ code: REQUEST_CANCELLED, message: "x" }), "Chat cancelled.");
    assert.equal(chatErrorMessage(new Error("model missing")), "Chat failed: model missing");
    assert.equal(chatErrorMessage("odd"), "Chat failed: odd");
  });
});
