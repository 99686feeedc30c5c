/**
 * The extension's command ids. vscode-languageclient registers a VS Code command for each command
 * the server lists in `executeCommandProvider.commands` (assist.showContext, assist.reindex,
 * assist.runAction), so ours must be different ids; ours call the server's through
 * `workspace/executeCommand`.
 */

export const COMMANDS = {
  showContext: "assist.context.show",
  reindex: "assist.index.rebuild",
  chatSelection: "assist.chat.selection",
  restart: "assist.server.restart",
  showStatus: "assist.status.show",
} as const;

/** The server's executeCommand ids (listed by the server, registered by the language client). */
export const SERVER_COMMANDS: readonly string[] = [
  "assist.showContext",
  "assist.reindex",
  "assist.runAction",
];
