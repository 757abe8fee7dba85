// `kubectl selfhost version`: version, commit and the Node.js runtime it runs on.
import type { Invocation } from '../cli.ts';
import { COMMIT, VERSION } from '../version.ts';

export async function versionCommand({ flags, io }: Invocation): Promise<number> {
  const args = flags as { output?: 'json' };
  const info = { version: VERSION, commit: COMMIT, node: process.version, platform: `${process.platform}/${process.arch}` };
  io.out(args.output === 'json' ? JSON.stringify(info, null, 2) + '\n' : `kubectl-selfhost ${info.version} (commit ${info.commit}, node ${info.node}, ${info.platform})\n`);
  return 0;
}
