/**
 * The Assist extension: starts assist-server through vscode-languageclient (which brings inline
 * completions, settings sync and the server's progress), and adds the palette commands and the
 * status bar item. The decisions live in the pure modules next to this file; this one wires them
 * to VS Code.
 */

import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as readline from "node:readline";
import type * as stream from "node:stream";
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  State,
  WorkDoneProgress,
  type CloseHandlerResult,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";

import {
  CHAT_METHOD,
  ChatAnswer,
  chatErrorMessage,
  chatMarkdown,
  chatParams,
  METHOD_NOT_FOUND,
} from "./chat";
import { COMMANDS } from "./commands";
import { contextArguments, contextMarkdown, REINDEX, SHOW_CONTEXT } from "./contextReport";
import { documentSelector, languagesOf } from "./documents";
import { RestartPolicy } from "./restartPolicy";
import { ServerLog } from "./serverLog";
import {
  INSTALL_COMMAND,
  resolveServer,
  startFailureMessage,
  type FileProbe,
  type Resolution,
} from "./serverCommand";
import { configurationAnswers, needsRestart, SECTION, serverSettings } from "./settings";
import {
  describe,
  parseStatus,
  pollDelay,
  POLL_IDLE_MS,
  statusView,
  type ClientState,
  type IndexStatus,
} from "./status";
import { SCHEME, VirtualDocuments } from "./views";

const STATUS_METHOD = "assist/status";
const OPEN_SETTINGS = "Open Settings";
const COPY_INSTALL = "Copy Install Command";
const SHOW_OUTPUT = "Show Output";

const probe: FileProbe = {
  isExecutable(file: string): boolean {
    try {
      if (!fs.statSync(file).isFile()) {
        return false;
      }
      fs.accessSync(file, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },
};

function lines(input: stream.Readable, onLine: (line: string) => void): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on("line", onLine);
}

/** stdout carries the protocol over stdio; with other transports its lines are info. */
function pipeLines(input: stream.Readable, output: vscode.LogOutputChannel): void {
  lines(input, (line) => output.info(line));
}

/** The server's log, each line at its own level (not all as errors). */
function pipeServerLog(input: stream.Readable, output: vscode.LogOutputChannel): void {
  const log = new ServerLog();
  lines(input, (raw) => {
    const { level, text } = log.line(raw);
    output[level](text);
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class AssistExtension implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private resolution: Resolution | undefined;
  private clientState: ClientState = "starting";
  /** Whether the server answered `initialize` since it was last started. */
  private started = false;
  private status: IndexStatus | undefined;
  private statusProblem: string | undefined;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private chatCount = 0;
  private readonly restarts = new RestartPolicy();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
    private readonly item: vscode.StatusBarItem,
    private readonly docs: VirtualDocuments,
  ) {}

  /** The settings of the extension's own group, `assist.server.*`. */
  private resolve(): Resolution {
    const config = vscode.workspace.getConfiguration(SECTION);
    return resolveServer({
      serverPath: config.get("server.path"),
      serverArgs: config.get("server.args"),
      workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      home: os.homedir(),
      env: process.env,
      platform: process.platform,
      probe,
    });
  }

  /** The `assist` section without the extension's own settings. */
  private initializationOptions(): object {
    return serverSettings(vscode.workspace.getConfiguration().get(SECTION));
  }

  async start(): Promise<void> {
    this.resolution = this.resolve();
    if (!this.resolution.found) {
      this.setClientState("missing");
      this.output.error(this.resolution.message);
      void this.showMissing(this.resolution.message);
      return;
    }
    const { command, args } = this.resolution;
    this.output.info(`Starting ${[command, ...args].join(" ")}`);
    const serverOptions: ServerOptions = { command, args, options: { env: process.env } };
    const manifest = this.context.extension.packageJSON as { activationEvents?: unknown };
    const languages = languagesOf(manifest.activationEvents);
    const clientOptions: LanguageClientOptions = {
      documentSelector: documentSelector(languages),
      outputChannel: this.output,
      stdioOptions: { stdout: pipeLines, stderr: pipeServerLog },
      synchronize: { configurationSection: SECTION },
      initializationOptions: () => this.initializationOptions(),
      middleware: {
        workspace: {
          configuration: async (params, token, next) => {
            const answers = await next(params, token);
            return Array.isArray(answers) ? configurationAnswers(params.items, answers) : answers;
          },
        },
      },
      errorHandler: {
        error: (_error, _message, count): ErrorHandlerResult =>
          count !== undefined && count <= 3
            ? { action: ErrorAction.Continue }
            : { action: ErrorAction.Shutdown },
        closed: (): CloseHandlerResult => this.closed(),
      },
      initializationFailedHandler: (error) => {
        this.output.error(`The server failed to initialize: ${errorText(error)}`);
        return false; // starting again would fail the same way
      },
    };
    const client = new LanguageClient("assist", "Assist", serverOptions, clientOptions);
    this.client = client;
    client.onDidChangeState((event) => {
      if (this.client !== client) {
        return;
      }
      if (event.newState === State.Running) {
        this.started = true;
        this.setClientState("running");
        this.pollSoon(0);
      } else if (event.newState === State.Starting) {
        this.setClientState("starting");
      } else {
        this.setClientState("stopped");
      }
    });
    this.started = false;
    this.setClientState("starting");
    try {
      await client.start();
    } catch (error) {
      // vscode-languageclient has shown the error already; the output has the server's stderr.
      this.output.error(`The server did not start: ${errorText(error)}`);
      if (this.client === client) {
        this.setClientState("stopped");
      }
    }
  }

  /** The connection closed without being asked to. */
  private closed(): CloseHandlerResult {
    const decision = this.restarts.closed(Date.now(), this.started);
    if (decision.restart) {
      this.output.warn("The server stopped unexpectedly; starting it again.");
      this.started = false; // if the new one stops while starting, it is not restarted again
      return { action: CloseAction.Restart, handled: true };
    }
    const resolution = this.resolution;
    const message =
      decision.message ??
      (resolution === undefined ? "Assist: the server stopped." : startFailureMessage(resolution));
    this.output.error(message);
    void vscode.window.showErrorMessage(message, SHOW_OUTPUT, OPEN_SETTINGS).then((choice) => {
      if (choice === SHOW_OUTPUT) {
        this.output.show();
      } else if (choice === OPEN_SETTINGS) {
        void vscode.commands.executeCommand("workbench.action.openSettings", "assist.server");
      }
    });
    return { action: CloseAction.DoNotRestart, handled: true };
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.stopPolling();
    if (client !== undefined) {
      try {
        await client.dispose(2000);
      } catch (error) {
        this.output.warn(`Stopping the server: ${errorText(error)}`);
      }
    }
  }

  async restart(): Promise<void> {
    this.restarts.reset();
    await this.stop();
    this.status = undefined;
    this.statusProblem = undefined;
    await this.start();
  }

  private async showMissing(message: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, OPEN_SETTINGS, COPY_INSTALL);
    if (choice === OPEN_SETTINGS) {
      await vscode.commands.executeCommand("workbench.action.openSettings", "assist.server.path");
    } else if (choice === COPY_INSTALL) {
      await vscode.env.clipboard.writeText(INSTALL_COMMAND);
    }
  }

  // Status bar ---------------------------------------------------------------------------------

  private setClientState(state: ClientState): void {
    this.clientState = state;
    if (state !== "running") {
      this.stopPolling();
    }
    this.render();
  }

  private render(): void {
    const view = statusView(this.clientState, this.status, this.statusProblem);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor =
      view.severity === "error"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : view.severity === "warning"
          ? new vscode.ThemeColor("statusBarItem.warningBackground")
          : undefined;
    this.item.show();
  }

  private stopPolling(): void {
    if (this.pollTimer !== undefined) {
      clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
    }
  }

  /** Ask for the status after `delay` ms (replacing a request already planned). */
  private pollSoon(delay: number): void {
    this.stopPolling();
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      void this.poll();
    }, delay);
  }

  private async poll(): Promise<void> {
    const client = this.client;
    if (client === undefined || client.state !== State.Running) {
      return;
    }
    let next = POLL_IDLE_MS;
    try {
      const status = parseStatus(await client.sendRequest(STATUS_METHOD));
      this.statusProblem = status === undefined ? "the answer is not a status" : undefined;
      this.status = status ?? this.status;
      next = pollDelay(status);
    } catch (error) {
      this.statusProblem = errorText(error);
    }
    if (this.client === client && client.state === State.Running) {
      this.render();
      this.pollSoon(next);
    }
  }

  /** The running client, or undefined after telling the user why there is none. */
  private runningClient(): LanguageClient | undefined {
    if (this.resolution !== undefined && !this.resolution.found) {
      void this.showMissing(this.resolution.message);
      return undefined;
    }
    if (this.client !== undefined && this.client.state === State.Starting) {
      void vscode.window.showInformationMessage(
        "Assist: the server is starting; try again in a moment.",
      );
      return undefined;
    }
    if (this.client === undefined || this.client.state !== State.Running) {
      void vscode.window
        .showWarningMessage("Assist: the server is not running.", SHOW_OUTPUT, "Restart Server")
        .then((choice) => {
          if (choice === SHOW_OUTPUT) {
            this.output.show();
          } else if (choice === "Restart Server") {
            void this.restart();
          }
        });
      return undefined;
    }
    return this.client;
  }

  // Commands -----------------------------------------------------------------------------------

  async showStatus(): Promise<void> {
    if (this.resolution !== undefined && !this.resolution.found) {
      await this.showMissing(this.resolution.message);
      return;
    }
    if (this.clientState === "running") {
      await this.poll();
    }
    const reindex = "Re-index";
    let message: string;
    if (this.clientState !== "running") {
      message = `Assist: the server is ${this.clientState}.`;
    } else if (this.statusProblem !== undefined) {
      message = `Assist: no status from the server: ${this.statusProblem}`;
    } else if (this.status !== undefined) {
      message = `Assist index: ${describe(this.status)}.`;
      if (this.status.lastError && this.status.state !== "error") {
        message += ` Last error: ${this.status.lastError}`;
      }
    } else {
      message = "Assist: waiting for the server's status.";
    }
    const choice =
      this.status?.state === "error"
        ? await vscode.window.showErrorMessage(message, reindex, SHOW_OUTPUT)
        : await vscode.window.showInformationMessage(message, reindex, SHOW_OUTPUT);
    if (choice === reindex) {
      await this.reindex();
    } else if (choice === SHOW_OUTPUT) {
      this.output.show();
    }
  }

  async reindex(): Promise<void> {
    const client = this.runningClient();
    if (client === undefined) {
      return;
    }
    try {
      const answer: unknown = await client.sendRequest(ExecuteCommandRequest.type, {
        command: REINDEX,
        arguments: [],
      });
      this.status = parseStatus(answer) ?? this.status;
      this.statusProblem = undefined;
      this.render();
      void vscode.window.showInformationMessage("Assist: indexing the workspace again.");
    } catch (error) {
      void vscode.window.showErrorMessage(`Assist: re-indexing failed: ${errorText(error)}`);
    }
    this.pollSoon(500);
  }

  async showContext(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined) {
      void vscode.window.showInformationMessage(
        "Assist: open a file and put the cursor where a completion would go.",
      );
      return;
    }
    const client = this.runningClient();
    if (client === undefined) {
      return;
    }
    const document = editor.document;
    const position = client.code2ProtocolConverter.asPosition(editor.selection.active);
    const uri = client.code2ProtocolConverter.asUri(document.uri);
    try {
      const report: unknown = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: "Assist: finding context" },
        (_progress, token) =>
          client.sendRequest(
            ExecuteCommandRequest.type,
            { command: SHOW_CONTEXT, arguments: contextArguments(uri, position) },
            token,
          ),
      );
      const text = contextMarkdown(report, vscode.workspace.asRelativePath(document.uri), position);
      await this.docs.show(vscode.Uri.from({ scheme: SCHEME, path: "/Assist Context.md" }), text);
    } catch (error) {
      void vscode.window.showErrorMessage(
        `Assist: showing the context failed: ${errorText(error)}`,
      );
    }
  }

  async chatOnSelection(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined) {
      void vscode.window.showInformationMessage("Assist: select some code in an editor first.");
      return;
    }
    const client = this.runningClient();
    if (client === undefined) {
      return;
    }
    const question = await vscode.window.showInputBox({
      title: "Assist: chat on the selection",
      prompt: editor.selection.isEmpty ? "Ask about this file" : "Ask about the selected code",
      placeHolder: "What does this code do?",
      ignoreFocusOut: true,
    });
    if (question === undefined || question.trim() === "") {
      return;
    }
    const document = editor.document;
    const range = client.code2ProtocolConverter.asRange(editor.selection);
    const token = `assist-chat-${randomUUID()}`;
    const params = chatParams(
      question.trim(),
      client.code2ProtocolConverter.asUri(document.uri),
      range,
      token,
    );
    const subject = {
      question: question.trim(),
      file: vscode.workspace.asRelativePath(document.uri),
      languageId: document.languageId,
      range,
      selection: editor.selection.isEmpty ? "" : document.getText(editor.selection),
    };
    const answer = new ChatAnswer();
    this.chatCount += 1;
    const view = vscode.Uri.from({ scheme: SCHEME, path: `/Assist Chat ${this.chatCount}.md` });
    await this.docs.show(view, chatMarkdown(subject, answer));
    const progress = client.onProgress(WorkDoneProgress.type, token, (value) => {
      if (answer.progress(value)) {
        this.docs.set(view, chatMarkdown(subject, answer));
      }
    });
    try {
      const result: unknown = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: "Assist: asking the chat model",
          cancellable: true,
        },
        (_progress, cancel) => client.sendRequest(CHAT_METHOD, params, cancel),
      );
      answer.finish(result);
    } catch (error) {
      const message = chatErrorMessage(error);
      answer.fail(message);
      if ((error as { code?: unknown } | undefined)?.code === METHOD_NOT_FOUND) {
        void vscode.window.showErrorMessage(`Assist: ${message}`);
      }
    } finally {
      progress.dispose();
    }
    this.docs.set(view, chatMarkdown(subject, answer));
  }

  async onConfigurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
    if (needsRestart((key) => event.affectsConfiguration(key))) {
      this.output.info("Settings the server reads only at start changed: restarting it.");
      await this.restart();
    } else if (event.affectsConfiguration(SECTION) && this.clientState === "running") {
      this.pollSoon(1000); // new index settings start a new pass
    }
  }

  dispose(): void {
    this.stopPolling();
  }
}

let extension: AssistExtension | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel("Assist", { log: true });
  const item = vscode.window.createStatusBarItem(
    "assist.status",
    vscode.StatusBarAlignment.Right,
    100,
  );
  item.name = "Assist";
  item.command = COMMANDS.showStatus;
  const docs = new VirtualDocuments();
  const ext = new AssistExtension(context, output, item, docs);
  extension = ext;
  context.subscriptions.push(
    output,
    item,
    docs,
    ext,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, docs),
    vscode.commands.registerCommand(COMMANDS.showContext, () => ext.showContext()),
    vscode.commands.registerCommand(COMMANDS.reindex, () => ext.reindex()),
    vscode.commands.registerCommand(COMMANDS.chatSelection, () => ext.chatOnSelection()),
    vscode.commands.registerCommand(COMMANDS.restart, () => ext.restart()),
    vscode.commands.registerCommand(COMMANDS.showStatus, () => ext.showStatus()),
    vscode.workspace.onDidChangeConfiguration((event) => ext.onConfigurationChanged(event)),
  );
  // Not awaited: commands must not wait for the server, which may take a while to start.
  void ext.start();
}

export async function deactivate(): Promise<void> {
  await extension?.stop();
  extension = undefined;
}
