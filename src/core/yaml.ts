// YAML in and out. js-yaml directly (the library client-node itself uses) rather than client-node's
// loadYaml/dumpYaml: those round-trip through typed models, which reorder keys and drop any field the model does
// not know, and a DaemonSet must keep every field of the static pod, including ones newer than client-node.
import { dump, loadAll } from 'js-yaml';

export function parseAll(text: string): unknown[] {
  return loadAll(text).filter((d) => d !== null && d !== undefined);
}

export function toYaml(value: unknown): string {
  return dump(value, { noRefs: true, lineWidth: -1, sortKeys: false });
}

/** A multi-document YAML stream, as `kubectl apply -f -` accepts. */
export function toYamlStream(values: readonly unknown[]): string {
  return values.map((v) => `---\n${toYaml(v)}`).join('');
}
