import * as assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  describe as describeStatus,
  parseStatus,
  pollDelay,
  POLL_IDLE_MS,
  POLL_INDEXING_MS,
  statusView,
  type IndexStatus,
} from "../src/status";

const ready: IndexStatus = {
  state: "ready",
  files: 42,
  chunks: 310,
  embedded: 310,
  lastError: null,
};

describe("parseStatus", () => {
  it("reads the server's answer", () => {
    assert.deepEqual(
      parseStatus({ state: "indexing", files: 3, chunks: 10, embedded: 0, lastError: null }),
      { state: "indexing", files: 3, chunks: 10, embedded: 0, lastError: null },
    );
  });

  it("fills in counts that are missing or not numbers, and rejects non-statuses", () => {
    assert.deepEqual(parseStatus({ state: "error", files: "x", lastError: "boom" }), {
      state: "error",
      files: 0,
      chunks: 0,
      embedded: 0,
      lastError: "boom",
    });
    assert.equal(parseStatus(null), undefined);
    assert.equal(parseStatus({ files: 1 }), undefined);
    assert.equal(parseStatus("ready"), undefined);
  });
});

describe("statusView", () => {
  it("shows a ready index with its counts in the tooltip", () => {
    const view = statusView("running", ready);
    assert.equal(view.text, "$(check) Assist");
    assert.match(view.tooltip, /Index ready: 42 files, 310 chunks, 310 embedded/);
    assert.equal(view.severity, "normal");
  });

  it("shows indexing progress: files first, then the embedded share", () => {
    const files = statusView("running", { ...ready, state: "indexing", chunks: 0, embedded: 0 });
    assert.equal(files.text, "$(sync~spin) Assist: indexing 42 files");
    const embedding = statusView("running", { ...ready, state: "indexing", embedded: 155 });
    assert.equal(embedding.text, "$(sync~spin) Assist: indexing 50% embedded");
  });

  it("shows an index error in the item and its message in the tooltip", () => {
    const view = statusView("running", {
      ...ready,
      state: "error",
      lastError: "OSError: disk full",
    });
    assert.equal(view.text, "$(error) Assist: index error");
    assert.match(view.tooltip, /OSError: disk full/);
    assert.equal(view.severity, "error");
  });

  it("warns about a ready index whose last re-index failed", () => {
    const view = statusView("running", { ...ready, lastError: "ValueError: x" });
    assert.equal(view.severity, "warning");
    assert.match(view.tooltip, /Last error: ValueError: x/);
  });

  it("shows a disabled index as no index, not as a problem", () => {
    const view = statusView("running", { ...ready, state: "disabled" });
    assert.equal(view.text, "$(circle-slash) Assist: no index");
    assert.equal(view.severity, "normal");
  });

  it("shows the client's state before any status", () => {
    assert.equal(statusView("missing").severity, "warning");
    assert.match(statusView("missing").tooltip, /not found/);
    assert.match(statusView("stopped").tooltip, /not running/);
    assert.equal(statusView("starting").text, "$(sync~spin) Assist");
    assert.equal(statusView("running").text, "$(sync~spin) Assist");
  });

  it("shows a failed status request as a warning", () => {
    const view = statusView("running", ready, "Unhandled method assist/status");
    assert.equal(view.severity, "warning");
    assert.match(view.tooltip, /Unhandled method assist\/status/);
  });

  it("counts in words", () => {
    const one = { state: "ready", files: 1, chunks: 1, embedded: 1, lastError: null };
    assert.equal(describeStatus(one), "ready: 1 file, 1 chunk, 1 embedded");
    assert.equal(
      describeStatus({ ...ready, files: 12345 }),
      "ready: 12,345 files, 310 chunks, 310 embedded",
    );
    assert.match(
      describeStatus({ ...ready, state: "error", lastError: "boom" }),
      /indexing failed: boom/,
    );
  });
});

describe("pollDelay", () => {
  it("asks often while indexing and rarely otherwise", () => {
    assert.equal(pollDelay({ ...ready, state: "indexing" }), POLL_INDEXING_MS);
    assert.equal(pollDelay(undefined), POLL_INDEXING_MS);
    assert.equal(pollDelay(ready), POLL_IDLE_MS);
  });
});
