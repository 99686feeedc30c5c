/**
 * The status bar item's text and tooltip from the server's `assist/status` answer and the
 * client's state, and how often to ask again.
 */

/** The `assist/status` answer. */
export interface IndexStatus {
  state: string; // "indexing" | "ready" | "disabled" | "error"
  files: number;
  chunks: number;
  embedded: number;
  lastError: string | null;
}

/** Where the language client is, as far as the user cares. */
export type ClientState = "starting" | "running" | "stopped" | "missing";

export type Severity = "normal" | "warning" | "error";

export interface StatusView {
  text: string;
  tooltip: string;
  severity: Severity;
}

/** Milliseconds between status requests while indexing, and otherwise. */
export const POLL_INDEXING_MS = 2000;
export const POLL_IDLE_MS = 15000;

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** The answer as an IndexStatus, or undefined if it is not one. */
export function parseStatus(value: unknown): IndexStatus | undefined {
  if (typeof value !== "object" || value === null) {
    return undefined;
  }
  const raw = value as Record<string, unknown>;
  if (typeof raw.state !== "string") {
    return undefined;
  }
  return {
    state: raw.state,
    files: count(raw.files),
    chunks: count(raw.chunks),
    embedded: count(raw.embedded),
    lastError: typeof raw.lastError === "string" && raw.lastError !== "" ? raw.lastError : null,
  };
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
}

/** "42 files, 310 chunks, 120 embedded". */
export function counts(status: IndexStatus): string {
  const embedded = `${status.embedded.toLocaleString("en-US")} embedded`;
  return `${plural(status.files, "file")}, ${plural(status.chunks, "chunk")}, ${embedded}`;
}

/** One line for people: "ready: 42 files, 310 chunks, 310 embedded". */
export function describe(status: IndexStatus): string {
  switch (status.state) {
    case "disabled":
      return "the index is off (assist.index.enabled is false, or no folder is open)";
    case "error":
      return `indexing failed: ${status.lastError ?? "see the Assist output"}`;
    default:
      return `${status.state}: ${counts(status)}`;
  }
}

const CLICK = "Click for details.";

/** The status bar item for the client's state and the last status answer (or request problem). */
export function statusView(
  client: ClientState,
  status?: IndexStatus,
  problem?: string,
): StatusView {
  if (client === "missing") {
    return {
      text: "$(warning) Assist",
      tooltip: `assist-server was not found. ${CLICK}`,
      severity: "warning",
    };
  }
  if (client === "stopped") {
    return {
      text: "$(circle-slash) Assist",
      tooltip: `The assist server is not running. ${CLICK}`,
      severity: "warning",
    };
  }
  if (client === "starting") {
    return {
      text: "$(sync~spin) Assist",
      tooltip: "Starting assist-server...",
      severity: "normal",
    };
  }
  if (problem !== undefined) {
    return {
      text: "$(warning) Assist",
      tooltip: `Could not ask the server for its status: ${problem}. ${CLICK}`,
      severity: "warning",
    };
  }
  if (status === undefined) {
    return { text: "$(sync~spin) Assist", tooltip: "Asking the server...", severity: "normal" };
  }
  const lastError = status.lastError ? `\nLast error: ${status.lastError}` : "";
  switch (status.state) {
    case "indexing": {
      const embedding = status.chunks > 0 && status.embedded < status.chunks;
      const progress = embedding
        ? `${Math.floor((100 * status.embedded) / status.chunks)}% embedded`
        : plural(status.files, "file");
      return {
        text: `$(sync~spin) Assist: indexing ${progress}`,
        tooltip: `Indexing the workspace: ${counts(status)}.${lastError}\n${CLICK}`,
        severity: "normal",
      };
    }
    case "ready":
      return {
        text: status.lastError ? "$(warning) Assist" : "$(check) Assist",
        tooltip: `Index ready: ${counts(status)}.${lastError}\n${CLICK}`,
        severity: status.lastError ? "warning" : "normal",
      };
    case "disabled":
      return {
        text: "$(circle-slash) Assist: no index",
        tooltip: `Completions work; ${describe(status)}.\n${CLICK}`,
        severity: "normal",
      };
    case "error":
      return {
        text: "$(error) Assist: index error",
        tooltip:
          `Indexing failed: ${status.lastError ?? "see the Assist output"}. ` +
          `Completions work without cross-file context.\n${CLICK}`,
        severity: "error",
      };
    default:
      return {
        text: `$(question) Assist: ${status.state}`,
        tooltip: `Index state "${status.state}": ${counts(status)}.${lastError}\n${CLICK}`,
        severity: "normal",
      };
  }
}

/** How long to wait before asking for the status again. */
export function pollDelay(status?: IndexStatus): number {
  return status === undefined || status.state === "indexing" ? POLL_INDEXING_MS : POLL_IDLE_MS;
}
