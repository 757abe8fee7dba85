// What differs between two nodes' static manifests of one component, in one short phrase for the plan. A DaemonSet
// runs one pod template on every node, so a difference is a per-node setting pivot would drop (a kubeadm patch on
// one node, a hand edit) or a node mid-upgrade that the DaemonSet would up- or downgrade. It is told on the
// node-neutral templates (after toDaemonSet), so the node's own address never counts.
import type { Component } from './components.ts';
import { mainContainer, readFlag } from './container.ts';
import type { Container, PodTemplate } from './k8s-types.ts';
import { canonicalTemplate } from './transform/canonical.ts';

/** One node's template, as the DaemonSet would have it. */
export interface NodeTemplate {
  node: string;
  template: PodTemplate;
}

export interface ManifestDifference {
  /** e.g. `--max-requests-inflight=400 on cp-1, 800 on cp-2; --v=4 on cp-2 only`. */
  what: string;
  /** The image tags differ: a kubeadm upgrade done on one node and not (yet) on the other. */
  versions: boolean;
}

/** How many flags (or fields) are named before "and N more": the line stays one line. */
const SHOWN = 3;

// A flag whose value may be a credential, or the file that holds one, is named without its value (the plan ends up
// in terminal scrollback and CI logs), as src/ui/command-line.ts does for our own --token. So is any value with
// credentials in a URL (https://user:password@host). A boolean is no secret (--enable-bootstrap-token-auth=true).
const SECRET_FLAG = /token|passw|secret|key|credential|auth-file/i;
const URL_CREDENTIALS = /:\/\/[^/@\s]+@/;

export function mayBeSecret(flag: string, value: string): boolean {
  if (value === 'true' || value === 'false') return false;
  return SECRET_FLAG.test(flag) || URL_CREDENTIALS.test(value);
}

/** A value as it reads on one line: quoted when it holds a space, a quote or a control character. */
const shown = (v: string) => (/[\s"\x00-\x1f\x7f]/.test(v) ? JSON.stringify(v) : v);

const more = (items: string[], noun: string) => (items.length > SHOWN ? [...items.slice(0, SHOWN), `and ${items.length - SHOWN} more ${noun}`] : items);

/** The flag names of a container in the order it gives them (`--f=v`, `--f v` and a bare `--f` alike). */
function flagNames(c: Container | undefined): string[] {
  return [...(c?.command ?? []), ...(c?.args ?? [])].filter((a) => a.startsWith('-')).map((a) => a.split('=')[0]!);
}

/** Each flag of the main container that the two nodes set differently, one phrase each. */
export function flagDifferences(component: Component, a: NodeTemplate, b: NodeTemplate): string[] {
  const [ca, cb] = [mainContainer(a.template, component), mainContainer(b.template, component)];
  const out: string[] = [];
  for (const flag of new Set([...flagNames(ca), ...flagNames(cb)])) {
    const [va, vb] = [readFlag(ca, flag), readFlag(cb, flag)];
    if (va === vb) continue;
    const hidden = [va, vb].some((v) => v !== undefined && mayBeSecret(flag, v));
    if (va === undefined || vb === undefined) {
      const [only, value] = va === undefined ? [b.node, vb] : [a.node, va];
      out.push(hidden ? `${flag} on ${only} only (value not shown)` : `${flag}=${shown(value!)} on ${only} only`);
    } else out.push(hidden ? `${flag} (value not shown)` : `${flag}=${shown(va)} on ${a.node}, ${shown(vb)} on ${b.node}`);
  }
  return out;
}

/** `repo:tag` -> [repo, tag]; a digest or no tag gives no tag. */
function splitImage(image: string): [string, string | undefined] {
  const name = image.split('@')[0]!;
  const at = name.lastIndexOf(':');
  return at > name.lastIndexOf('/') ? [name.slice(0, at), name.slice(at + 1)] : [name, undefined];
}

function imageDifference(component: Component, a: NodeTemplate, b: NodeTemplate): { what: string; versions: boolean } | undefined {
  const [ia, ib] = [mainContainer(a.template, component)?.image, mainContainer(b.template, component)?.image];
  if (ia === ib) return undefined;
  const [[ra, ta], [rb, tb]] = [splitImage(ia ?? ''), splitImage(ib ?? '')];
  // The same repository twice is read once: `...:v1.33.6` for the second.
  const second = ra === rb && tb !== undefined && ib === `${rb}:${tb}` ? `...:${tb}` : (ib ?? 'none');
  return { what: `image ${ia ?? 'none'} on ${a.node}, ${second} on ${b.node}`, versions: ta !== tb };
}

type Json = ReturnType<typeof canonicalTemplate>;
type Obj = { [k: string]: Json };
const asObj = (v: Json | undefined): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {});
const same = (x: Json | undefined, y: Json | undefined) => JSON.stringify(x) === JSON.stringify(y);
const keys = (x: Obj, y: Obj) => [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();

/**
 * The fields that differ, down to a container's own fields (`spec.containers[0].resources`), on the canonical form
 * (the hash's: API defaults left out), so a field only the API server filled in is no difference.
 */
export function fieldDifferences(a: PodTemplate, b: PodTemplate): string[] {
  const [ta, tb] = [asObj(canonicalTemplate(a)), asObj(canonicalTemplate(b))];
  const out: string[] = [];
  for (const part of ['metadata', 'spec']) {
    const [pa, pb] = [asObj(ta[part]), asObj(tb[part])];
    for (const key of keys(pa, pb)) {
      const [va, vb] = [pa[key], pb[key]];
      if (same(va, vb)) continue;
      if ((key === 'containers' || key === 'initContainers') && Array.isArray(va) && Array.isArray(vb) && va.length === vb.length) {
        va.forEach((x, i) => {
          const [ca, cb] = [asObj(x), asObj(vb[i])];
          out.push(...keys(ca, cb).filter((f) => !same(ca[f], cb[f])).map((f) => `${part}.${key}[${i}].${f}`));
        });
      } else out.push(`${part}.${key}`);
    }
  }
  return out;
}

/**
 * What differs between the two templates: the image (its tags: `versions`) and the component's flags, at most
 * three named; when neither, the fields of the pod spec that do.
 */
export function manifestDifference(component: Component, a: NodeTemplate, b: NodeTemplate): ManifestDifference {
  const image = imageDifference(component, a, b);
  const flags = flagDifferences(component, a, b);
  if (image !== undefined || flags.length > 0) {
    const items = [...(image ? [image.what] : []), ...more(flags, 'flags')];
    return { what: items.join('; '), versions: image?.versions ?? false };
  }
  const fields = fieldDifferences(a.template, b.template);
  return { what: fields.length > 0 ? `its pod spec (${more(fields, 'fields').join(', ')})` : 'its pod template', versions: false };
}

/**
 * The plan's reason for blocking a component whose manifests differ between two nodes: which nodes, what differs,
 * and the fix. `path` is the manifest's path on the nodes; `others` the further nodes that differ from `a`.
 */
export function manifestsDifferReason(component: Component, a: NodeTemplate, b: NodeTemplate, path: string, others: readonly string[] = []): string {
  const d = manifestDifference(component, a, b);
  const too = others.length > 0 ? ` (${others.join(', ')} ${others.length > 1 ? 'differ' : 'differs'} from ${a.node} too)` : '';
  const head = `${a.node} and ${b.node} have different ${component} manifests beyond the node address: ${d.what}${too}; one DaemonSet runs the same pod on every node`;
  const leaveOut = `or leave ${component} out with --components, then plan again`;
  if (d.versions) return `${head}, so finish "kubeadm upgrade" on every control-plane node ("kubeadm upgrade node" on each one not yet upgraded), ${leaveOut}`;
  return `${head}, so make ${path} the same on every node (apply the same kubeadm patch on each, or edit the file on the node), ${leaveOut}`;
}
