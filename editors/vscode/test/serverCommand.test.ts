import * as assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  expand,
  isPython,
  missingMessage,
  resolveServer,
  startFailureMessage,
  serverArgs,
  type FileProbe,
  type ResolveInput,
} from "../src/serverCommand";

function files(...paths: string[]): FileProbe {
  const set = new Set(paths);
  return { isExecutable: (file) => set.has(file) };
}

function input(overrides: Partial<ResolveInput>): ResolveInput {
  return {
    serverPath: undefined,
    serverArgs: undefined,
    env: { PATH: "/usr/local/bin:/usr/bin" },
    platform: "linux",
    home: "/home/me",
    probe: files(),
    ...overrides,
  };
}

describe("resolveServer", () => {
  it("finds the default command on PATH with --stdio", () => {
    const got = resolveServer(input({ probe: files("/usr/bin/assist-server") }));
    assert.deepEqual(got, {
      found: true,
      command: "/usr/bin/assist-server",
      args: ["--stdio"],
      python: false,
    });
  });

  it("takes the first PATH entry that has the command", () => {
    const got = resolveServer(
      input({ probe: files("/usr/local/bin/assist-server", "/usr/bin/assist-server") }),
    );
    assert.equal(got.found && got.command, "/usr/local/bin/assist-server");
  });

  it("says how to install the server when it is not on PATH", () => {
    const got = resolveServer(input({}));
    assert.equal(got.found, false);
    assert.ok(!got.found);
    assert.match(got.message, /pipx install assist-server/);
    assert.match(got.message, /was not found on PATH/);
    assert.equal(got.wanted, "assist-server");
  });

  it("runs a Python interpreter with -m assist_server before the arguments", () => {
    const got = resolveServer(
      input({
        serverPath: "/opt/venv/bin/python3.12",
        serverArgs: ["--stdio", "-v"],
        probe: files("/opt/venv/bin/python3.12"),
      }),
    );
    assert.deepEqual(got, {
      found: true,
      command: "/opt/venv/bin/python3.12",
      args: ["-m", "assist_server", "--stdio", "-v"],
      python: true,
    });
  });

  it("finds a bare python on PATH and runs it as a module", () => {
    const got = resolveServer(input({ serverPath: "python3", probe: files("/usr/bin/python3") }));
    assert.ok(got.found);
    assert.deepEqual(got.args, ["-m", "assist_server", "--stdio"]);
  });

  it("expands ${workspaceFolder} and resolves relative paths against the folder", () => {
    const probe = files("/ws/.venv/bin/python");
    const expanded = resolveServer(
      input({ serverPath: "${workspaceFolder}/.venv/bin/python", workspaceFolder: "/ws", probe }),
    );
    const relative = resolveServer(
      input({ serverPath: ".venv/bin/python", workspaceFolder: "/ws", probe }),
    );
    assert.ok(expanded.found && relative.found);
    assert.equal(expanded.command, "/ws/.venv/bin/python");
    assert.equal(relative.command, "/ws/.venv/bin/python");
  });

  it("expands ~ to the home folder", () => {
    const got = resolveServer(
      input({
        serverPath: "~/.local/bin/assist-server",
        probe: files("/home/me/.local/bin/assist-server"),
      }),
    );
    assert.ok(got.found);
    assert.equal(got.command, "/home/me/.local/bin/assist-server");
  });

  it("reports a path that is not an executable file", () => {
    const got = resolveServer(input({ serverPath: "/nowhere/assist-server" }));
    assert.ok(!got.found);
    assert.match(got.message, /no executable file at \/nowhere\/assist-server/);
    assert.match(got.message, /pipx install assist-server/);
  });

  it("reports ${workspaceFolder} without an open folder", () => {
    const got = resolveServer(input({ serverPath: "${workspaceFolder}/venv/bin/python" }));
    assert.ok(!got.found);
    assert.match(got.message, /folder that is not open/);
  });

  it("uses the defaults for empty or malformed settings", () => {
    const probe = files("/usr/bin/assist-server");
    for (const [serverPath, args] of [
      ["", "--stdio"],
      ["   ", null],
      [42, ["--stdio", 3]],
    ] as const) {
      const got = resolveServer(input({ serverPath, serverArgs: args, probe }));
      assert.deepEqual(got.found && [got.command, got.args], [
        "/usr/bin/assist-server",
        ["--stdio"],
      ]);
    }
  });

  it("keeps an explicit empty argument list", () => {
    const got = resolveServer(input({ serverArgs: [], probe: files("/usr/bin/assist-server") }));
    assert.deepEqual(got.found && got.args, []);
  });

  it("tries PATHEXT's extensions on Windows", () => {
    const got = resolveServer(
      input({
        platform: "win32",
        env: { Path: "C:\\tools;C:\\py\\Scripts", PATHEXT: ".EXE;.CMD" },
        probe: files("C:\\py\\Scripts\\assist-server.EXE"),
      }),
    );
    assert.ok(got.found);
    assert.equal(got.command, "C:\\py\\Scripts\\assist-server.EXE");
  });

  it("takes a Windows path without its .exe", () => {
    const got = resolveServer(
      input({
        platform: "win32",
        serverPath: "C:\\py\\python",
        env: { PATHEXT: ".EXE" },
        probe: files("C:\\py\\python.EXE"),
      }),
    );
    assert.ok(got.found);
    assert.equal(got.python, true);
  });
});

describe("helpers", () => {
  it("recognises Python interpreters by file name", () => {
    for (const name of [
      "python",
      "python3",
      "python3.12",
      "/x/bin/python",
      "C:\\Py\\python.exe",
      "pythonw.exe",
      "pypy3",
    ]) {
      assert.ok(isPython(name), name);
    }
    for (const name of ["assist-server", "/x/bin/assist-server", "python-lsp", "mypython"]) {
      assert.ok(!isPython(name), name);
    }
  });

  it("expands only variables that have a value", () => {
    assert.equal(expand("${userHome}/x", undefined, "/h"), "/h/x");
    assert.equal(expand("~", undefined, "/h"), "/h");
    assert.equal(expand("~/x", undefined, undefined), undefined);
    assert.equal(expand("a~b", undefined, undefined), "a~b");
  });

  it("copies the argument list", () => {
    const args = ["--stdio"];
    const got = serverArgs(args);
    got.push("-v");
    assert.deepEqual(args, ["--stdio"]);
  });

  it("names the setting and the install command in the message", () => {
    const message = missingMessage("x", "why");
    assert.match(message, /assist\.server\.path is "x"/);
    assert.match(message, /Install the server with: pipx install assist-server\./);
  });
});

describe("startFailureMessage", () => {
  it("asks whether the package is installed for a Python interpreter", () => {
    const message = startFailureMessage({
      found: true,
      command: "/usr/bin/python3",
      args: ["-m", "assist_server", "--stdio"],
      python: true,
    });
    assert.match(message, /exited while starting/);
    assert.match(message, /\/usr\/bin\/python3 -m pip install assist-server/);
    assert.match(message, /pipx install assist-server/);
  });

  it("names the command line of an executable", () => {
    const message = startFailureMessage({
      found: true,
      command: "/x/assist-server",
      args: ["--stdio", "--bad"],
      python: false,
    });
    assert.match(message, /started as: \/x\/assist-server --stdio --bad$/);
  });
});
