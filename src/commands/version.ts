// `kubectl selfhost version`: version, commit, the Node.js runtime it runs on, and the architectures of the node
// helper it carries (pivot's in-place port sharing; none: by restart).
import type { Invocation } from '../cli.ts';
import { loadNodeHelper } from '../ports/node-helper.ts';
import { COMMIT, VERSION } from '../version.ts';

export async function versionCommand({ flags, io }: Invocation): Promise<number> {
  const args = flags as { output?: 'json' };
  const info = { version: VERSION, commit: COMMIT, node: process.version, platform: `${process.platform}/${process.arch}`, nodeHelper: [...loadNodeHelper().archs] };
  const helper = info.nodeHelper.length ? info.nodeHelper.join(', ') : 'none';
  io.out(args.output === 'json' ? JSON.stringify(info, null, 2) + '\n' : `kubectl-selfhost ${info.version} (commit ${info.commit}, node ${info.node}, ${info.platform}; node helper: ${helper})\n`);
  return 0;
}
