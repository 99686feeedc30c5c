/**
 * Which process to start for `assist.server.path` and `assist.server.args`: a command found on
 * PATH, an executable path, or a Python interpreter that runs `-m assist_server`. Pure: the file
 * system and the environment come in as arguments, so plain Node tests cover every case.
 */

import * as path from "node:path";

export const DEFAULT_SERVER_PATH = "assist-server";
export const DEFAULT_SERVER_ARGS: readonly string[] = ["--stdio"];
export const INSTALL_COMMAND = "pipx install assist-server";

/** What the resolver may ask of the file system. */
export interface FileProbe {
  /** Whether `file` exists, is a regular file (after links) and may be executed. */
  isExecutable(file: string): boolean;
}

export interface ResolveInput {
  /** `assist.server.path` as the user wrote it (may be empty or not a string). */
  serverPath: unknown;
  /** `assist.server.args` as the user wrote it. */
  serverArgs: unknown;
  /** The first workspace folder's path, for `${workspaceFolder}` and relative paths. */
  workspaceFolder?: string;
  /** The user's home folder, for `~` and `${userHome}`. */
  home?: string;
  /** The environment (PATH, and PATHEXT on Windows). */
  env: Readonly<Record<string, string | undefined>>;
  platform: NodeJS.Platform;
  probe: FileProbe;
}

export type Resolution =
  | { found: true; command: string; args: string[]; python: boolean }
  | { found: false; message: string; wanted: string };

/** A Python interpreter's file name: python, python3, python3.12, pythonw, python.exe, pypy3. */
const PYTHON = /^(python|pypy)(\d+(\.\d+)*)?w?(\.exe)?$/i;

/** Whether `file` names a Python interpreter rather than the server's own executable. */
export function isPython(file: string): boolean {
  return PYTHON.test(path.basename(file.replace(/\\/g, "/")));
}

/** `~`, `${userHome}` and `${workspaceFolder}` expanded; undefined if a variable has no value. */
export function expand(value: string, workspaceFolder?: string, home?: string): string | undefined {
  let out = value;
  if (out === "~" || out.startsWith("~/") || out.startsWith("~\\")) {
    if (home === undefined) {
      return undefined;
    }
    out = home + out.slice(1);
  }
  for (const [name, replacement] of [
    ["userHome", home],
    ["workspaceFolder", workspaceFolder],
  ] as const) {
    const token = "${" + name + "}";
    if (out.includes(token)) {
      if (replacement === undefined) {
        return undefined;
      }
      out = out.split(token).join(replacement);
    }
  }
  return out;
}

/** The arguments setting as a list of strings (the default when it is not one). */
export function serverArgs(value: unknown): string[] {
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) {
    return [...value];
  }
  return [...DEFAULT_SERVER_ARGS];
}

function pathApi(platform: NodeJS.Platform): path.PlatformPath {
  return platform === "win32" ? path.win32 : path.posix;
}

/** Where a bare command name is found on PATH (with PATHEXT's extensions on Windows). */
export function findOnPath(
  name: string,
  env: Readonly<Record<string, string | undefined>>,
  platform: NodeJS.Platform,
  probe: FileProbe,
): string | undefined {
  const api = pathApi(platform);
  const pathVar = env.PATH ?? env.Path ?? "";
  const extensions =
    platform === "win32"
      ? ["", ...(env.PATHEXT ?? ".COM;.EXE;.BAT;.CMD").split(";").filter((e) => e !== "")]
      : [""];
  for (const dir of pathVar.split(api.delimiter)) {
    if (dir === "") {
      continue;
    }
    for (const extension of extensions) {
      const candidate = api.join(dir, name + extension);
      if (probe.isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

/** The message for a server that cannot be started, with the command that installs it (plain
 * text: notifications do not render markdown). */
export function missingMessage(wanted: string, why: string): string {
  return (
    `Assist: ${why} (assist.server.path is "${wanted}"). ` +
    `Install the server with: ${INSTALL_COMMAND}. Or set assist.server.path to the ` +
    "assist-server executable, or to a Python interpreter that has it installed."
  );
}

/** Resolve the settings into the process to start, or say why none can be. */
export function resolveServer(input: ResolveInput): Resolution {
  const raw =
    typeof input.serverPath === "string" && input.serverPath.trim() !== ""
      ? input.serverPath.trim()
      : DEFAULT_SERVER_PATH;
  const args = serverArgs(input.serverArgs);
  const expanded = expand(raw, input.workspaceFolder, input.home);
  if (expanded === undefined) {
    return {
      found: false,
      wanted: raw,
      message: missingMessage(raw, "the server path names a folder that is not open"),
    };
  }
  const api = pathApi(input.platform);
  const isPath = expanded.includes("/") || (input.platform === "win32" && expanded.includes("\\"));
  let command: string | undefined;
  if (isPath) {
    let absolute: string | undefined = expanded;
    if (!api.isAbsolute(expanded)) {
      absolute =
        input.workspaceFolder === undefined
          ? undefined
          : api.resolve(input.workspaceFolder, expanded);
    }
    if (absolute !== undefined && input.probe.isExecutable(absolute)) {
      command = absolute;
    } else if (absolute !== undefined && input.platform === "win32") {
      // C:\tools\assist-server names assist-server.exe: try PATHEXT's extensions there.
      const folder = { PATH: api.dirname(absolute), PATHEXT: input.env.PATHEXT };
      command = findOnPath(api.basename(absolute), folder, input.platform, input.probe);
    }
    if (command === undefined) {
      return {
        found: false,
        wanted: raw,
        message: missingMessage(raw, `no executable file at ${absolute ?? expanded}`),
      };
    }
  } else {
    command = findOnPath(expanded, input.env, input.platform, input.probe);
    if (command === undefined) {
      return {
        found: false,
        wanted: raw,
        message: missingMessage(raw, `the server \`${expanded}\` was not found on PATH`),
      };
    }
  }
  if (isPython(command)) {
    return { found: true, command, args: ["-m", "assist_server", ...args], python: true };
  }
  return { found: true, command, args, python: false };
}

/** The message for a server that exited before it answered `initialize`. */
export function startFailureMessage(resolution: Resolution): string {
  const message = "Assist: the server exited while starting; its error is in the Assist output.";
  if (!resolution.found) {
    return message;
  }
  if (resolution.python) {
    return (
      `${message} assist.server.path is the Python interpreter ${resolution.command}: is ` +
      `assist-server installed for it (${resolution.command} -m pip install assist-server)? ` +
      `Or install it with ${INSTALL_COMMAND} and leave assist.server.path at its default.`
    );
  }
  return `${message} It was started as: ${[resolution.command, ...resolution.args].join(" ")}`;
}
