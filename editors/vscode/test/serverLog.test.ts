import * as assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ServerLog } from "../src/serverLog";

describe("ServerLog", () => {
  it("takes the level from the server's log line and drops its time and level", () => {
    const log = new ServerLog();
    assert.deepEqual(log.line("2026-12-03 20:16:03,237 INFO assist_server.lsp.server: settings"), {
      level: "info",
      text: "assist_server.lsp.server: settings",
    });
    assert.equal(log.line("2026-12-03 20:16:03,237 WARNING x: y").level, "warn");
    assert.equal(log.line("2026-12-03 20:16:03,237 CRITICAL x: y").level, "error");
    assert.equal(log.line("2026-12-03 20:16:03,237 DEBUG x: y").level, "info");
  });

  it("keeps a traceback at the level of the line above it", () => {
    const log = new ServerLog();
    log.line("2026-12-03 20:16:45,769 ERROR assist_server.lsp.server: could not handle");
    assert.deepEqual(log.line("Traceback (most recent call last):"), {
      level: "error",
      text: "Traceback (most recent call last):",
    });
    log.line("2026-12-03 20:16:46,000 INFO x: back to normal");
    assert.equal(log.line("  continued").level, "info");
  });

  it("counts lines before any log line as errors (the server did not get to log)", () => {
    const log = new ServerLog();
    const got = log.line("/usr/bin/python3: No module named assist_server");
    assert.deepEqual(got, {
      level: "error",
      text: "/usr/bin/python3: No module named assist_server",
    });
  });
});
