// krew's rules for a plugin manifest, restated from krew v0.4 (internal/index/validation/validate.go and
// cmd/validate-krew-manifest): what `krew install` and krew-index's CI reject. krew-install.test.ts also runs
// krew's own validate-krew-manifest, when it could be built.

/** The os/arch pairs validate-krew-manifest knows; each platform must select one, none may be selected twice. */
export const KREW_PLATFORMS = [
  ['windows', '386'], ['windows', 'amd64'], ['windows', 'arm64'],
  ['linux', '386'], ['linux', 'amd64'], ['linux', 'arm'], ['linux', 'arm64'], ['linux', 'ppc64le'],
  ['darwin', '386'], ['darwin', 'amd64'], ['darwin', 'arm64'],
] as const;

export const LICENSE_FILES = new Set(['license', 'license.txt', 'license.md', 'licenses', 'licenses.txt', 'licenses.md', 'copying', 'copying.txt']);

const WINDOWS_RESERVED = ['CON', 'PRN', 'AUX', 'NUL', ...Array.from({ length: 9 }, (_, i) => `COM${i + 1}`), ...Array.from({ length: 9 }, (_, i) => `LPT${i + 1}`)];
// semver with a leading v, as k8s.io/apimachinery's ParseSemantic accepts it
const SEMVER = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

export interface Expression { key: string; operator: string; values?: string[] }
export interface Selector { matchLabels?: Record<string, string>; matchExpressions?: Expression[] }
export interface FileOp { from?: string; to?: string }
export interface Platform { selector?: Selector; uri?: string; sha256?: string; bin?: string; files?: FileOp[] }
export interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  spec?: { version?: string; shortDescription?: string; platforms?: Platform[]; homepage?: string; description?: string; caveats?: string };
}

/** Every rule the manifest breaks; `name` is the plugin's name (krew-index: the file name without .yaml). */
export function krewProblems(name: string, m: Manifest): string[] {
  const problems: string[] = [];
  const add = (p: string) => problems.push(p);
  if (m.apiVersion !== 'krew.googlecontainertools.github.com/v1alpha2') add(`apiVersion is ${m.apiVersion}`);
  if (m.kind !== 'Plugin') add(`kind is ${m.kind}`);
  if (!/^[\w-]+$/.test(name) || WINDOWS_RESERVED.some((r) => r.toLowerCase() === name.toLowerCase())) add(`plugin name ${name} is not allowed`);
  if (m.metadata?.name !== name) add(`plugin should be named ${name}, not ${m.metadata?.name}`);
  const spec = m.spec ?? {};
  if (!spec.shortDescription) add('no shortDescription');
  else if (/[\r\n]/.test(spec.shortDescription)) add('line break in shortDescription');
  if (!spec.version) add('no version');
  else if (!SEMVER.test(spec.version)) add(`version ${spec.version} is not semver with a leading v`);
  const platforms = spec.platforms ?? [];
  if (platforms.length === 0) add('no platforms');
  platforms.forEach((p, i) => {
    const at = `platforms[${i}]`;
    if (!p.uri) add(`${at}: no uri`);
    if (!p.sha256) add(`${at}: no sha256`);
    else if (!/^[a-f0-9]{64}$/.test(p.sha256)) add(`${at}: sha256 ${p.sha256} is not 64 lowercase hex digits`);
    if (!p.bin) add(`${at}: no bin`);
    if (p.files !== undefined && p.files !== null) {
      if (p.files.length === 0) add(`${at}: files is empty`);
      for (const f of p.files) if (!f.from || !f.to) add(`${at}: a files entry needs from and to`);
    }
    problems.push(...selectorProblems(p.selector).map((s) => `${at}: ${s}`));
    const matched = KREW_PLATFORMS.filter(([os, arch]) => matches(p.selector, os, arch));
    if (matched.length === 0) add(`${at}: selector matches no supported platform`);
    if (matched.some(([os]) => os === 'windows') && !p.bin?.endsWith('.exe')) add(`${at}: a Windows bin must end in .exe`);
  });
  for (const [os, arch] of KREW_PLATFORMS) {
    const hits = platforms.flatMap((p, i) => (matches(p.selector, os, arch) ? [i] : []));
    if (hits.length > 1) add(`platforms ${hits.join(', ')} overlap on ${os}/${arch}`);
  }
  return problems;
}

function selectorProblems(sel: Selector | undefined): string[] {
  if (!sel) return ['no selector'];
  if (!sel.matchLabels && !(sel.matchExpressions?.length)) return ['empty selector'];
  const keys = [...Object.keys(sel.matchLabels ?? {}), ...(sel.matchExpressions ?? []).map((e) => e.key)];
  const out = keys.filter((k) => k !== 'os' && k !== 'arch').map((k) => `selector key ${k} is not supported (only os and arch)`);
  if (sel.matchLabels && Object.keys(sel.matchLabels).length === 0) out.push('matchLabels is empty');
  if (sel.matchExpressions && sel.matchExpressions.length === 0) out.push('matchExpressions is empty');
  return out;
}

/** Label selector semantics (metav1.LabelSelectorAsSelector) on the labels {os, arch}. */
export function matches(sel: Selector | undefined, os: string, arch: string): boolean {
  if (!sel) return false;
  const labels: Record<string, string> = { os, arch };
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    const value = labels[e.key];
    const ok = { In: has && !!e.values?.includes(value!), NotIn: !has || !e.values?.includes(value!), Exists: has, DoesNotExist: !has }[e.operator];
    if (!ok) return false;
  }
  return true;
}

/** Where each `files` entry of a platform puts which archive entries (krew's from: globs, to: a directory). */
export function installedFiles(p: Platform, archiveNames: readonly string[]): string[] {
  const ops = p.files ?? [{ from: '*', to: '.' }];
  const out: string[] = [];
  for (const op of ops) {
    const re = new RegExp(`^${op.from!.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
    for (const n of archiveNames) if (re.test(n)) out.push(op.to === '.' ? n.split('/').at(-1)! : `${op.to}/${n.split('/').at(-1)}`);
  }
  return out;
}
