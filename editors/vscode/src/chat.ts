/**
 * Chat on a selection: the `assist/chat` request's parameters, the answer put together from the
 * `$/progress` reports that stream it (each report's `message` is the next piece of text), and
 * the markdown document that shows question and answer.
 */

export const CHAT_METHOD = "assist/chat";

/** JSON-RPC error codes the chat command explains. */
export const METHOD_NOT_FOUND = -32601;
export const REQUEST_CANCELLED = -32800;

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatParams {
  messages: ChatMessage[];
  uri: string;
  range: Range;
  workDoneToken: string;
}

/**
 * The request's parameters. The range is the selection as it is: empty (at the cursor) when
 * nothing is selected, so the server always gets a place in the document.
 */
export function chatParams(
  question: string,
  uri: string,
  range: Range,
  workDoneToken: string,
): ChatParams {
  return { messages: [{ role: "user", content: question }], uri, range, workDoneToken };
}

/** Whether a range selects nothing. */
export function isEmpty(range: Range): boolean {
  return range.start.line === range.end.line && range.start.character === range.end.character;
}

/** An answer as it streams in: `$/progress` deltas first, the request's result last. */
export class ChatAnswer {
  private pieces: string[] = [];
  private final: string | undefined;
  private failure: string | undefined;
  private finished = false;

  /** Take one `$/progress` value; true if the text grew. */
  progress(value: unknown): boolean {
    if (this.finished || typeof value !== "object" || value === null) {
      return false;
    }
    const { kind, message } = value as { kind?: unknown; message?: unknown };
    if (kind !== "report" || typeof message !== "string" || message === "") {
      return false; // "begin" carries a title and "end" a summary, not answer text
    }
    this.pieces.push(message);
    return true;
  }

  /** The request answered: its `content` is the whole answer and wins over the deltas. */
  finish(result: unknown): void {
    this.finished = true;
    if (typeof result === "object" && result !== null) {
      const content = (result as { content?: unknown }).content;
      if (typeof content === "string") {
        this.final = content;
      }
    }
  }

  /** The request failed; the text so far is kept. */
  fail(message: string): void {
    this.finished = true;
    this.failure = message;
  }

  get text(): string {
    return this.final ?? this.pieces.join("");
  }

  get done(): boolean {
    return this.finished;
  }

  get error(): string | undefined {
    return this.failure;
  }
}

/** What the user asked about: the document, the selected lines and their text. */
export interface ChatSubject {
  question: string;
  file: string; // as shown to the user (workspace-relative path)
  languageId: string;
  range?: Range;
  selection: string;
}

/** A fence longer than any backtick run in `text`, so the text cannot close it. */
function fence(text: string): string {
  const longest = Math.max(2, ...Array.from(text.matchAll(/`+/g), (m) => m[0].length));
  return "`".repeat(longest + 1);
}

/** The chat document: the question, the selection, and the answer so far. */
export function chatMarkdown(subject: ChatSubject, answer: ChatAnswer): string {
  const lines = ["# Assist chat", "", `**Question:** ${subject.question}`, ""];
  if (subject.range !== undefined && !isEmpty(subject.range) && subject.selection !== "") {
    const first = subject.range.start.line + 1;
    const last = subject.range.end.line + 1;
    const where = first === last ? `line ${first}` : `lines ${first}-${last}`;
    const f = fence(subject.selection);
    lines.push(`**Selection:** ${subject.file}, ${where}`, "", f + subject.languageId);
    lines.push(subject.selection.replace(/\n$/, ""), f, "");
  } else {
    lines.push(`**File:** ${subject.file}`, "");
  }
  lines.push("## Answer", "");
  const text = answer.text;
  if (text !== "") {
    lines.push(text, "");
  } else if (!answer.done) {
    lines.push("_Waiting for the model..._", "");
  }
  if (answer.error !== undefined) {
    lines.push(`> **Error:** ${answer.error}`, "");
  } else if (!answer.done && text !== "") {
    lines.push("_..._", "");
  }
  return lines.join("\n");
}

/** A failed `assist/chat` request, in words the user can act on. */
export function chatErrorMessage(error: unknown): string {
  const code =
    typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  const message =
    typeof error === "object" &&
    error !== null &&
    typeof (error as { message?: unknown }).message === "string"
      ? (error as { message: string }).message
      : String(error);
  if (code === METHOD_NOT_FOUND) {
    return (
      "This assist-server has no chat (it does not know the assist/chat request): " +
      "update it (pipx upgrade assist-server)."
    );
  }
  if (code === REQUEST_CANCELLED) {
    return "Chat cancelled.";
  }
  return `Chat failed: ${message}`;
}
