/**
 * "Show context": the `assist.showContext` command's arguments and its JSON answer as a
 * markdown document (which code from other files a completion at the cursor would see).
 */

import type { Position } from "./chat";

export const SHOW_CONTEXT = "assist.showContext";
export const REINDEX = "assist.reindex";

/** The command's one argument: the cursor as in textDocument/inlineCompletion. */
export function contextArguments(uri: string, position: Position): unknown[] {
  return [
    { textDocument: { uri }, position: { line: position.line, character: position.character } },
  ];
}

interface Snippet {
  path: string;
  start_line: number;
  end_line: number;
  source: string;
  score: number;
  tokens: number;
}

function isSnippet(value: unknown): value is Snippet {
  if (typeof value !== "object" || value === null) {
    return false;
  }
  const s = value as Record<string, unknown>;
  return (
    typeof s.path === "string" && typeof s.start_line === "number" && typeof s.end_line === "number"
  );
}

function cell(value: string | number): string {
  return String(value).replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The report as markdown: where, a table of snippets, the prompt size, and the raw JSON. */
export function contextMarkdown(report: unknown, file: string, position: Position): string {
  const where = `${file}, line ${position.line + 1}, column ${position.character + 1}`;
  const lines = ["# Assist context", "", `At ${where}.`, ""];
  const raw = (typeof report === "object" && report !== null ? report : {}) as Record<
    string,
    unknown
  >;
  if (typeof raw.skipped === "string" && raw.skipped !== "") {
    lines.push(`No completion would be asked here: ${raw.skipped}.`, "");
  }
  const snippets = Array.isArray(raw.snippets) ? raw.snippets.filter(isSnippet) : [];
  if (snippets.length === 0) {
    if (raw.skipped === undefined) {
      lines.push("No code from other files would go into the prompt.", "");
    }
  } else {
    lines.push("Code from other files that a completion here would put in the prompt:", "");
    lines.push("| file | lines | tier | score | tokens |", "| --- | --- | --- | ---: | ---: |");
    for (const s of snippets) {
      lines.push(
        "| " +
          [
            cell(s.path),
            `${s.start_line}-${s.end_line}`,
            cell(s.source),
            cell(s.score),
            cell(s.tokens),
          ].join(" | ") +
          " |",
      );
    }
    lines.push("");
  }
  if (typeof raw.prompt_tokens === "number") {
    lines.push(`Prompt: about ${raw.prompt_tokens} tokens.`, "");
  }
  lines.push("The server's answer:", "", "```json", JSON.stringify(report, null, 2), "```", "");
  return lines.join("\n");
}
