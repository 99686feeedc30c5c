import * as assert from "node:assert/strict";
import { describe, it } from "node:test";

import { RestartPolicy } from "../src/restartPolicy";

describe("RestartPolicy", () => {
  it("restarts a few times, then gives up with a message", () => {
    const policy = new RestartPolicy(3, 180_000);
    assert.deepEqual(
      [0, 1000, 2000].map((t) => policy.closed(t, true).restart),
      [true, true, true],
    );
    const last = policy.closed(3000, true);
    assert.equal(last.restart, false);
    assert.match(last.message ?? "", /stopped 4 times in 3 minutes/);
    assert.match(last.message ?? "", /Assist: Restart Server/);
  });

  it("forgets crashes older than the window", () => {
    const policy = new RestartPolicy(1, 1000);
    assert.equal(policy.closed(0, true).restart, true);
    assert.equal(policy.closed(5000, true).restart, true);
    assert.equal(policy.closed(5500, true).restart, false);
  });

  it("never restarts a server that stopped before it had started", () => {
    const policy = new RestartPolicy(3, 180_000);
    assert.deepEqual(policy.closed(0, false), { restart: false });
    assert.equal(policy.closed(1, true).restart, true);
  });

  it("starts afresh after a reset", () => {
    const policy = new RestartPolicy(0, 1000);
    assert.equal(policy.closed(0, true).restart, false);
    policy.reset();
    assert.equal(policy.closed(1, true).restart, false);
    const generous = new RestartPolicy(1, 1000);
    generous.closed(0, true);
    generous.reset();
    assert.equal(generous.closed(1, true).restart, true);
  });
});
