/**
 * Which documents the server serves: the languages it parses, read from the extension's
 * `onLanguage:` activation events (written from the server's language table by
 * scripts/vscode_settings.py), in files on disk and in untitled editors.
 */

export interface DocumentFilter {
  scheme: string;
  language: string;
}

/** The language ids of `onLanguage:` activation events. */
export function languagesOf(activationEvents: unknown): string[] {
  if (!Array.isArray(activationEvents)) {
    return [];
  }
  const prefix = "onLanguage:";
  return activationEvents
    .filter((event): event is string => typeof event === "string" && event.startsWith(prefix))
    .map((event) => event.slice(prefix.length))
    .filter((language) => language !== "");
}

/** The document selector for those languages. */
export function documentSelector(languages: readonly string[]): DocumentFilter[] {
  return languages.flatMap((language) => [
    { scheme: "file", language },
    { scheme: "untitled", language },
  ]);
}
