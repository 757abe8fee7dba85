// The completer process: prints cobra's answer for the words after `kubectl selfhost` and never fails loudly
// (a completion that errors would print into the user's command line).
import { complete, Directive, formatCompletion } from './complete.ts';
import { kubeconfigFiles, kubeconfigNames } from './kubeconfig-names.ts';

export function completionMain(words: readonly string[], withDescriptions: boolean, env: NodeJS.ProcessEnv = process.env): string {
  try {
    const c = complete(words.length > 0 ? words : [''], (field, flag) => kubeconfigNames(field, kubeconfigFiles(flag, env)));
    return formatCompletion(c, withDescriptions);
  } catch {
    return formatCompletion({ candidates: [], directive: Directive.error });
  }
}
