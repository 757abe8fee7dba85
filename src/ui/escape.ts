// Text from the cluster or from manifests (node names, image tags, event messages, file names) is escaped before it
// reaches a terminal: an ESC in an image tag could otherwise clear the screen or rewrite what the plan says. As
// kubectl does (cli-runtime printers.EscapeTerminal: ESC as ^[, CR as \r), extended to every C0 and C1 control
// character and DEL. Colour is added after escaping, so the renderer's own sequences survive.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const CONTROL_OR_NEWLINE = /[\u0000-\u001f\u007f-\u009f]/g;

function visible(ch: string): string {
  if (ch === '\x1b') return '^[';
  const named: Record<string, string> = { '\r': '\\r', '\n': '\\n', '\t': '\\t' };
  return named[ch] ?? `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** One line of human output: every control character, newlines and tabs included, made visible. */
export function escapeTerminal(text: string): string {
  return text.replace(CONTROL_OR_NEWLINE, visible);
}

/** A block of lines (a YAML diff): newlines and tabs kept, every other control character made visible. */
export function escapeTerminalBlock(text: string): string {
  return text.replace(CONTROL, visible);
}
