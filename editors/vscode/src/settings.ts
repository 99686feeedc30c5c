/**
 * The `assist` settings as the server receives them: in `initializationOptions` and in answers
 * to `workspace/configuration`. The extension's own groups (`assist.server.*`,
 * `assist.trace.*`) are left out, so the server sees only its own keys.
 */

/** Setting groups that belong to the extension, not the server. */
export const EXTENSION_GROUPS: readonly string[] = ["server", "trace"];

/** The configuration section the server reads. */
export const SECTION = "assist";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A deep copy with only JSON values (VS Code's configuration objects carry methods). */
export function toJson(value: unknown): Json | undefined {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return value;
  }
  if (typeof value === "number") {
    return Number.isFinite(value) ? value : undefined;
  }
  if (Array.isArray(value)) {
    return value.map((item) => toJson(item) ?? null);
  }
  if (isObject(value)) {
    const out: { [key: string]: Json } = {};
    for (const [key, item] of Object.entries(value)) {
      const converted = toJson(item);
      if (converted !== undefined) {
        out[key] = converted;
      }
    }
    return out;
  }
  return undefined; // functions, undefined, symbols
}

/** The first part of a settings key without a leading "assist." ("server.path" -> "server"). */
function group(key: string): string {
  const bare = key.startsWith(SECTION + ".") ? key.slice(SECTION.length + 1) : key;
  return bare.split(".")[0];
}

/**
 * The server's settings from the `assist` section (nested as VS Code gives it, or dotted):
 * always an object, without the extension's own groups.
 */
export function serverSettings(section: unknown): { [key: string]: Json } {
  const json = toJson(section);
  if (!isObject(json)) {
    return {};
  }
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(json)) {
    if (!EXTENSION_GROUPS.includes(group(key))) {
      out[key] = value;
    }
  }
  return out;
}

/**
 * The answers to a `workspace/configuration` request with the extension's groups removed from
 * the `assist` section; other sections are passed through as VS Code answered them.
 */
export function configurationAnswers(
  items: readonly { section?: string | null }[],
  answers: readonly unknown[],
): unknown[] {
  return answers.map((answer, i) => {
    const section = items[i]?.section;
    if (section === SECTION) {
      return serverSettings(answer);
    }
    if (section === undefined || section === null || section === "") {
      // The whole configuration: filter its assist part only.
      if (isObject(answer) && isObject(answer[SECTION])) {
        return { ...answer, [SECTION]: serverSettings(answer[SECTION]) };
      }
    }
    return answer;
  });
}

/**
 * Settings a running server cannot take: how it is started, and what it reads only at
 * initialize (capabilities are fixed then).
 */
export const RESTART_SETTINGS: readonly string[] = [
  `${SECTION}.server`,
  `${SECTION}.completion.asCompletionItem`,
];

/** Whether a configuration change (tested per key) means the server must be restarted. */
export function needsRestart(affects: (key: string) => boolean): boolean {
  return RESTART_SETTINGS.some((key) => affects(key));
}
