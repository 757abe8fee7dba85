// Decides whether this process answers a shell completion or runs the CLI (see entry.ts).
export interface CompletionRequest {
  /** The words after `kubectl selfhost`, the last one being completed. */
  words: string[];
  withDescriptions: boolean;
}

/** kubectl runs `kubectl_complete-selfhost <words>`; cobra's own spelling is `kubectl-selfhost __complete <words>`. */
export function completionRequest(argv0: string, args: readonly string[]): CompletionRequest | undefined {
  if (/^kubectl_complete-selfhost(\.exe)?$/i.test(argv0.split(/[\\/]/).at(-1)!)) return { words: [...args], withDescriptions: true };
  if (args[0] === '__complete' || args[0] === '__completeNoDesc') return { words: args.slice(1), withDescriptions: args[0] === '__complete' };
  return undefined;
}
