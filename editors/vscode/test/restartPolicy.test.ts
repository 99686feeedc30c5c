import * as assert from "node:assert/strict";
import { describe, it } from "node:test";

import { RestartPolicy } from "../src/restartPolicy";

describe("RestartPolicy", () => {
  it("restarts a few times, then gives up with a message", () => {
    const policy = new RestartPolicy(3, 180_000);
    assert.deepEqual([0, 1000, 2000].map((t) => policy.closed(t).restart), [true, true, true]);
    const last = policy.closed(3000);
    assert.equal(last.restart, false);
    assert.match(last.message ?? "", /stopped 4 times in 3 minutes/);
    assert.match(last.message ?? "", /Assist: Restart Server/);
  });

  it("forgets crashes older than the window", () => {
    const policy = new RestartPolicy(1, 1000);
    assert.equal(policy.closed(0).restart, true);
    assert.equal(policy.closed(5000).restart, true);
    assert.equal(policy.closed(5500).restart, false);
  });

  it("starts afresh after a reset", () => {
    const policy = new RestartPolicy(0, 1000);
    assert.equal(policy.closed(0).restart, false);
    policy.reset();
    assert.equal(policy.closed(1).restart, false);
    const generous = new RestartPolicy(1, 1000);
    generous.closed(0);
    generous.reset();
    assert.equal(generous.closed(1).restart, true);
  });
});
