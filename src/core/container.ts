// Which container of a static pod is the component, and where its flags live. A control-plane pod may carry
// sidecars (a KMS plugin, a log shipper): only the component's own container is ever changed, and its flags go
// where the manifest keeps them, `command` (kubeadm) or `args` (an image entrypoint with arguments).
import type { Container, Pod } from './k8s-types.ts';

/** Enough of a container to find it and read its flags (a live pod read from the API is typed this loosely). */
type ContainerLike = { name?: string; image?: string; command?: string[]; args?: string[] };
type PodLike<C extends ContainerLike = ContainerLike> = { metadata?: Pod['metadata']; spec: { containers: C[] } };

/** The executable a container runs: command[0] (basename), or for hyperkube its subcommand. */
export function binaryOf(c: ContainerLike): string | undefined {
  const argv = c.command !== undefined && c.command.length > 0 ? c.command : undefined;
  if (argv === undefined) return undefined;
  const base = argv[0]!.split('/').pop()!;
  if (base === 'hyperkube' && argv[1] !== undefined && !argv[1].startsWith('-')) {
    return argv[1].startsWith('kube-') || argv[1] === 'etcd' ? argv[1] : `kube-${argv[1]}`;
  }
  return base;
}

/**
 * The index of `name`'s own container: the one named like it, else the one running its binary; -1 if none is.
 * With `name` unknown, the pod's `component` label decides, and a pod without one has its first container.
 */
export function mainContainerIndex(pod: PodLike, name?: string): number {
  const wanted = name ?? pod.metadata?.labels?.['component'];
  const containers = pod.spec.containers ?? [];
  if (wanted === undefined) return containers.length > 0 ? 0 : -1;
  const byName = containers.findIndex((c) => c.name === wanted);
  if (byName !== -1) return byName;
  const byBinary = containers.findIndex((c) => binaryOf(c) === wanted);
  if (byBinary !== -1) return byBinary;
  return name === undefined && containers.length > 0 ? 0 : -1;
}

export function mainContainer<C extends ContainerLike>(pod: PodLike<C>, name?: string): C | undefined {
  const i = mainContainerIndex(pod, name);
  return i === -1 ? undefined : pod.spec.containers[i];
}

/** The container's whole argv as the runtime sees it (command then args), where flags are read. */
function argv(c: ContainerLike): string[] {
  return [...(c.command ?? []), ...(c.args ?? [])];
}

/**
 * A flag's value as the component sees it (Go's pflag: the last occurrence wins; `--f=v` or `--f v`; a bare
 * boolean `--f` is "true"). undefined if absent.
 */
export function readFlag(c: ContainerLike | undefined, name: string): string | undefined {
  if (c === undefined) return undefined;
  const all = argv(c);
  let value: string | undefined;
  all.forEach((a, i) => {
    if (a.startsWith(`${name}=`)) value = a.slice(name.length + 1);
    else if (a === name) value = all[i + 1] !== undefined && !all[i + 1]!.startsWith('-') ? all[i + 1] : 'true';
  });
  return value;
}

/** Replaces every occurrence of a flag in one list; returns undefined when the list has none. */
function replaceIn(list: readonly string[], name: string, value: string): string[] | undefined {
  let found = false;
  const out: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const a = list[i]!;
    if (a.startsWith(`${name}=`)) {
      found = true;
      out.push(`${name}=${value}`);
    } else if (a === name) {
      found = true;
      const next = list[i + 1];
      // `--flag value`: the value is replaced; a bare boolean flag becomes `--flag=value`.
      if (next !== undefined && !next.startsWith('-')) {
        out.push(name, value);
        i++;
      } else out.push(`${name}=${value}`);
    } else out.push(a);
  }
  return found ? out : undefined;
}

/**
 * Sets `--name=value` on a container: replaced where the flag already is (command or args, every occurrence),
 * else appended where the component's flags are. Those are in `args` when the container has args or no command
 * (an image entrypoint), else in `command`, as kubeadm writes them.
 */
export function setFlag(c: Container, name: string, value: string): Container {
  const inCommand = c.command ? replaceIn(c.command, name, value) : undefined;
  const inArgs = c.args ? replaceIn(c.args, name, value) : undefined;
  if (inCommand || inArgs) {
    return { ...c, ...(inCommand ? { command: inCommand } : {}), ...(inArgs ? { args: inArgs } : {}) };
  }
  const flag = `${name}=${value}`;
  if (c.command === undefined || (c.args?.length ?? 0) > 0) return { ...c, args: [...(c.args ?? []), flag] };
  return { ...c, command: [...c.command, flag] };
}

/** Applies `f` to the pod's main container only (unchanged when it has none). */
export function mapMainContainer<P extends PodLike<Container>>(pod: P, f: (c: Container) => Container, name?: string): P {
  const i = mainContainerIndex(pod, name);
  if (i === -1) return pod;
  return { ...pod, spec: { ...pod.spec, containers: pod.spec.containers.map((c, j) => (j === i ? f(c) : c)) } };
}
