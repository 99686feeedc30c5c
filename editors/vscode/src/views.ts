/**
 * Read-only markdown documents under the `assist:` scheme (context reports, chat answers): they
 * update in place as text streams in, and closing them never asks to save.
 */

import * as vscode from "vscode";

export const SCHEME = "assist";
const UPDATE_EVERY_MS = 50;

export class VirtualDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  private readonly pending = new Map<string, ReturnType<typeof setTimeout>>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? "";
  }

  /** Set a document's text; an open editor shows it within UPDATE_EVERY_MS. */
  set(uri: vscode.Uri, text: string): void {
    const key = uri.toString();
    this.texts.set(key, text);
    if (!this.pending.has(key)) {
      this.pending.set(
        key,
        setTimeout(() => {
          this.pending.delete(key);
          this.changed.fire(uri);
        }, UPDATE_EVERY_MS),
      );
    }
  }

  /** Set the text and show the document beside the current editor. */
  async show(uri: vscode.Uri, text: string): Promise<void> {
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(document, {
      viewColumn: vscode.ViewColumn.Beside,
      preserveFocus: true,
      preview: true,
    });
  }

  dispose(): void {
    for (const timer of this.pending.values()) {
      clearTimeout(timer);
    }
    this.pending.clear();
    this.changed.dispose();
  }
}
