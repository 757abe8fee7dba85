// What the API server would reject in a control-plane pod: a hand-edited manifest must be refused with one clear
// line, never planned into a DaemonSet the API rejects halfway through a pivot.
import type { Pod } from './k8s-types.ts';

type Named = { name?: unknown };

function duplicate(names: unknown[]): unknown {
  return names.find((n, i) => names.indexOf(n) !== i);
}

/** The first structural problem of a pod (what a DaemonSet's pod template would be rejected for), if any. */
export function podProblem(pod: Pod): string | undefined {
  const containers = pod.spec.containers as Array<Record<string, unknown> & Named>;
  if (containers.length === 0) return 'the pod has no containers (spec.containers is empty)';
  const volumes = (pod.spec.volumes ?? []) as Array<Named>;
  if (!Array.isArray(volumes)) return 'spec.volumes is not a list';
  const unnamedVolume = volumes.findIndex((v) => typeof v?.name !== 'string' || v.name === '');
  if (unnamedVolume !== -1) return `volume #${unnamedVolume + 1} has no name`;
  const dupVolume = duplicate(volumes.map((v) => v.name));
  if (dupVolume !== undefined) return `volume "${String(dupVolume)}" is defined twice`;
  const initContainers = (pod.spec['initContainers'] ?? []) as typeof containers;
  for (const c of [...initContainers, ...containers]) {
    if (typeof c?.name !== 'string' || c.name === '') return 'a container has no name';
    if (typeof c['image'] !== 'string' || c['image'] === '') return `container "${c.name}" has no image`;
    const mounts = (c['volumeMounts'] ?? []) as Array<Named & { mountPath?: unknown }>;
    if (!Array.isArray(mounts)) return `container "${c.name}": volumeMounts is not a list`;
    for (const m of mounts) {
      if (typeof m?.name !== 'string' || m.name === '') return `container "${c.name}" has a volume mount without a name`;
      if (!volumes.some((v) => v.name === m.name)) return `container "${c.name}" mounts volume "${m.name}", which the pod does not define`;
      if (typeof m.mountPath !== 'string' || m.mountPath === '') return `container "${c.name}" mounts volume "${m.name}" without a mountPath`;
    }
  }
  const dupContainer = duplicate([...initContainers, ...containers].map((c) => c.name));
  if (dupContainer !== undefined) return `container name "${String(dupContainer)}" is used twice`;
  return undefined;
}
