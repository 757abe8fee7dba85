// The entry of the bundle and of the single executable. kubectl (>= 1.26) completes `kubectl selfhost ...` by
// running `kubectl_complete-selfhost <words>`, a script that runs `kubectl-selfhost __complete <words>`; an
// executable itself named kubectl_complete-selfhost answers directly. Those go to the small completer, everything
// else to the CLI. Each side is imported lazily, so a <TAB> never loads yargs or client-node.
import { completionRequest } from './dispatch.ts';

const request = completionRequest(process.argv0, process.argv.slice(2));
if (request) {
  void import('./main.ts').then(({ completionMain }) => process.stdout.write(completionMain(request.words, request.withDescriptions)));
} else {
  void import('../main.ts');
}
