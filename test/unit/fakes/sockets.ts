// A fake of the NodeSockets port: records each call and answers as told (the real one runs the node helper).
import type { NodeSockets } from '../../../src/ports/nodefs.ts';

export type ShareAnswer = Awaited<ReturnType<NodeSockets['sharePort']>>;
export type SteerAnswer = Awaited<ReturnType<NodeSockets['steer']>>;

export function fakeSockets(calls: string[], answer: (node: string, exe: string) => ShareAnswer = () => ({ done: true, already: false }), steerAnswer: (node: string, to: string) => SteerAnswer = () => ({ done: true, wasAttached: false })): NodeSockets {
  return {
    async sharePort(node, _dirs, arch, exe, port) {
      calls.push(`node ${node}: share port ${port} of ${exe} (${arch})`);
      return answer(node, exe);
    },
    async steer(node, _dirs, arch, exe, port, to, migrate) {
      calls.push(`node ${node}: steer port ${port} of ${exe} to ${to}${migrate ? ', tcp_migrate_req' : ''} (${arch})`);
      return steerAnswer(node, to);
    },
  };
}
