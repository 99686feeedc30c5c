/**
 * The server's stderr as lines of the Assist output at their own level. The server logs
 * `2026-01-02 10:11:12,345 INFO assist_server.x: message`; the output channel adds its own time
 * and level, so both are taken off the line. Lines without that head (a traceback under an
 * error, Python's own "No module named ...") keep the level of the line before them, or count
 * as errors when nothing came before.
 */

export type LogLevel = "error" | "warn" | "info";

export interface LogLine {
  level: LogLevel;
  text: string;
}

const HEAD =
  /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[,.]\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;

const LEVELS: Record<string, LogLevel> = {
  // The user asked for debug lines with -vv: show them at the channel's default level.
  DEBUG: "info",
  INFO: "info",
  WARNING: "warn",
  ERROR: "error",
  CRITICAL: "error",
};

export class ServerLog {
  private level: LogLevel = "error";

  /** The level and text of one line of the server's stderr. */
  line(raw: string): LogLine {
    const match = HEAD.exec(raw);
    if (match === null) {
      return { level: this.level, text: raw };
    }
    this.level = LEVELS[match[1]] ?? "info";
    return { level: this.level, text: match[2] };
  }
}
