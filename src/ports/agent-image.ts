// The node agent's image: its default, kept apart so that the CLI can show it in --help without loading the
// agent, and the check of a --agent-image value. The image is used verbatim by the agent pods and the
// checkpointer, so a reference pinned by digest (name@sha256:...) runs exactly that image on every node.
import { UsageError } from '../core/errors.ts';

// By tag, as it has always been: the test bed loads a locally built image under this name. Pin it by digest
// with --agent-image docker.io/library/busybox@sha256:<digest of the image you mirrored>.
export const DEFAULT_AGENT_IMAGE = 'docker.io/library/busybox:1.35.0';

// The grammar of github.com/distribution/reference (what containerd and the kubelet parse), without its rarely
// used forms (IPv6 registry hosts, digest algorithms other than sha256).
const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]+)?)`;
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^(?:${DOMAIN}/)?${PATH_PART}(?:/${PATH_PART})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const EXAMPLE = 'e.g. docker.io/library/busybox:1.35.0, or pinned: docker.io/library/busybox@sha256:<64 hex digits>';

/** What is wrong with an image reference, or null when the runtime can take it as it is. */
export function imageProblem(ref: string): string | null {
  if (ref.trim() === '') return 'it is empty';
  const at = ref.indexOf('@');
  const digest = at === -1 ? undefined : ref.slice(at + 1);
  const named = at === -1 ? ref : ref.slice(0, at);
  if (digest !== undefined && !SHA256.test(digest)) return `"${digest}" is not a digest: use sha256: and 64 lower-case hex digits`;
  // A tag follows the last colon after the last slash (a colon before it is a registry port).
  const colon = named.lastIndexOf(':');
  const tagged = colon > named.lastIndexOf('/');
  const name = tagged ? named.slice(0, colon) : named;
  if (tagged && !TAG.test(named.slice(colon + 1))) return `"${named.slice(colon + 1)}" is not a tag (letters, digits, _ . -; at most 128)`;
  if (name.length > 255 || !NAME.test(name)) return `"${name}" is not an image name ([registry[:port]/]path, the path lower-case)`;
  return null;
}

/** The --agent-image value as given, or a usage error that says what is wrong with it. */
export function checkAgentImage(ref: string): string {
  const problem = imageProblem(ref);
  if (problem) throw new UsageError(`invalid --agent-image "${ref}": ${problem} (${EXAMPLE})`);
  return ref;
}
