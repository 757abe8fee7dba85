// Shell completion: the pure completer, the kubeconfig name reader, the dispatch, and the spec against the real
// yargs definitions (so that a flag added to the CLI without its completion fails here, not in a user's shell).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { run } from '../../src/cli.ts';
import { complete, Directive, formatCompletion, type NameSource } from '../../src/completion/complete.ts';
import { completionRequest } from '../../src/completion/dispatch.ts';
import { kubeconfigFiles, kubeconfigNames } from '../../src/completion/kubeconfig-names.ts';
import { completionMain } from '../../src/completion/main.ts';
import { GLOBAL_FLAGS, VERBS, type FlagSpec } from '../../src/completion/spec.ts';

const names: NameSource = (field, kubeconfig) =>
  ({ contexts: kubeconfig ? ['other-a'] : ['kind-a', 'kind-b', 'prod'], clusters: ['kind'], users: ['admin'] })[field];
const values = (words: string[]) => complete(words, names).candidates.map((c) => c.split('\t')[0]);

describe('complete', () => {
  it('offers the verbs, with descriptions, for the first word', () => {
    assert.deepEqual(values(['']), ['plan', 'pivot', 'status', 'rollback', 'version', 'rbac']);
    assert.deepEqual(values(['p']), ['plan', 'pivot']);
    assert.match(complete(['pl'], names).candidates[0]!, /^plan\t\S/);
    assert.equal(complete([''], names).directive, Directive.noFileComp);
  });

  it('offers global and verb flags, without the ones already given', () => {
    const tls = ['--certificate-authority', '--client-certificate', '--client-key'];
    assert.deepEqual(values(['plan', '--c']), ['--context', '--cluster', ...tls, '--color', '--components']);
    assert.deepEqual(values(['plan', '--context', 'x', '--c']), ['--cluster', ...tls, '--color', '--components']);
    assert.deepEqual(values(['--c']), ['--context', '--cluster', ...tls, '--color']);
    assert.deepEqual(values(['plan', '--as']), ['--as', '--as-group', '--as-uid']);
    assert.deepEqual(values(['plan', '--as-group', 'a', '--as', 'x', '--as']), ['--as-group', '--as-uid'], 'a repeatable flag is offered again');
    assert.deepEqual(complete(['plan', '--certificate-authority', ''], names), { candidates: [], directive: Directive.default }, 'a file');
    assert.ok(values(['rollback', '-']).includes('-y') && values(['rollback', '-']).includes('--exact'));
    assert.ok(!values(['plan', '--']).includes('-o'), 'shorthands only when asked for with a single dash');
    assert.ok(values(['plan', '-']).includes('-v'));
  });

  it('completes --context, --cluster and --user from the kubeconfig, in both spellings', () => {
    assert.deepEqual(values(['--context', '']), ['kind-a', 'kind-b', 'prod']);
    assert.deepEqual(values(['plan', '--context', 'kind-']), ['kind-a', 'kind-b']);
    assert.deepEqual(values(['plan', '--context=pr']), ['prod']);
    assert.deepEqual(values(['--cluster', '']), ['kind']);
    assert.deepEqual(values(['status', '--user', '']), ['admin']);
    assert.deepEqual(values(['--kubeconfig', '/x', '--context', '']), ['other-a'], 'names come from the --kubeconfig given');
    assert.deepEqual(values(['--kubeconfig=/x', 'plan', '--context', '']), ['other-a']);
  });

  it('completes --components as a comma-separated list', () => {
    assert.deepEqual(values(['plan', '--components', '']), ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
    assert.deepEqual(values(['pivot', '--components', 'kube-apiserver,']), ['kube-apiserver,kube-controller-manager', 'kube-apiserver,kube-scheduler']);
    assert.deepEqual(values(['pivot', '--components=kube-apiserver,kube-s']), ['kube-apiserver,kube-scheduler']);
  });

  it('completes choices, files and directories, and nothing for free text or positionals', () => {
    assert.deepEqual(values(['plan', '-o', '']), ['json', 'yaml']);
    assert.deepEqual(values(['version', '--output', '']), ['json']);
    assert.deepEqual(values(['pivot', '--dry-run=s']), ['server']);
    assert.deepEqual(values(['--color', 'a']), ['auto', 'always']);
    assert.deepEqual(complete(['plan', '--manifests-dir', ''], names), { candidates: [], directive: Directive.filterDirs });
    assert.deepEqual(complete(['--kubeconfig', ''], names), { candidates: [], directive: Directive.default });
    assert.deepEqual(complete(['pivot', '--timeout', ''], names), { candidates: [], directive: Directive.noFileComp });
    assert.deepEqual(complete(['status', ''], names), { candidates: [], directive: Directive.noFileComp });
    assert.deepEqual(values(['--context', 'prod', '']), ['plan', 'pivot', 'status', 'rollback', 'version', 'rbac'], 'a flag value is not the verb');
  });

  it('prints cobra\'s format, with or without descriptions', () => {
    assert.equal(formatCompletion({ candidates: ['a\tthe a', 'b'], directive: 4 }), 'a\tthe a\nb\n:4\n');
    assert.equal(formatCompletion({ candidates: ['a\tthe a'], directive: 4 }, false), 'a\n:4\n');
    assert.equal(completionMain([], true, {}).split('\n').at(-2), ':4');
  });
});

describe('kubeconfig names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'selfhost-complete-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  writeFileSync(a, 'contexts: [{name: one}, {name: two}]\nclusters: [{name: c1}]\n');
  writeFileSync(b, 'contexts: [{name: two}, {name: three}]\nusers: [{name: u}]\n');
  const broken = join(dir, 'broken');
  writeFileSync(broken, 'contexts: [unclosed\n');

  it('uses --kubeconfig, else the KUBECONFIG list, else ~/.kube/config', () => {
    assert.deepEqual(kubeconfigFiles('/flag', { KUBECONFIG: a }), ['/flag']);
    assert.deepEqual(kubeconfigFiles(undefined, { KUBECONFIG: `${a}${delimiter}${b}` }), [a, b]);
    assert.deepEqual(kubeconfigFiles(undefined, { HOME: '/home/x' }), [join('/home/x', '.kube', 'config')]);
  });

  it('merges the files in order without duplicates, skipping missing and broken ones', () => {
    assert.deepEqual(kubeconfigNames('contexts', [a, join(dir, 'missing'), broken, b]), ['one', 'two', 'three']);
    assert.deepEqual(kubeconfigNames('users', [a, b]), ['u']);
  });

  it('feeds --context completion end to end', () => {
    assert.equal(completionMain(['--context', 't'], false, { KUBECONFIG: `${a}${delimiter}${b}` }), 'two\nthree\n:4\n');
  });
});

describe('dispatch', () => {
  it('answers completion when named kubectl_complete-selfhost or given __complete first', () => {
    assert.deepEqual(completionRequest('/usr/local/bin/kubectl_complete-selfhost', ['plan', '']), { words: ['plan', ''], withDescriptions: true });
    assert.deepEqual(completionRequest('C:\\krew\\bin\\kubectl_complete-selfhost.exe', ['']), { words: [''], withDescriptions: true });
    assert.deepEqual(completionRequest('kubectl-selfhost', ['__complete', 'pl']), { words: ['pl'], withDescriptions: true });
    assert.deepEqual(completionRequest('kubectl-selfhost', ['__completeNoDesc', 'pl']), { words: ['pl'], withDescriptions: false });
    assert.equal(completionRequest('kubectl-selfhost', ['plan', '__complete']), undefined);
    assert.equal(completionRequest('/usr/bin/node', ['version']), undefined);
  });
});

describe('completion spec matches the CLI', () => {
  interface HelpFlag { short?: string; boolean: boolean; choices?: string[] }

  async function help(args: string[]): Promise<string> {
    let out = '';
    const io = { out: (t: string) => (out += t), err: () => {}, isTTY: false, stdinIsTTY: false, env: {} };
    assert.equal(await run([...args, '--help'], io), 0);
    return out;
  }

  /** yargs' flag sections ("Flags:", "Global flags:"): one flag a line (continuation lines hold its type, choices and default). */
  function flagsOf(text: string): Map<string, HelpFlag> {
    const flags = new Map<string, HelpFlag>();
    let current: { name: string; flag: HelpFlag; text: string } | undefined;
    let inFlags = false;
    const finish = () => {
      if (!current) return;
      current.flag.boolean = current.text.includes('[boolean]');
      const choices = /\[choices: ([^\]]+)\]/.exec(current.text.replace(/\s+/g, ' '));
      if (choices) current.flag.choices = choices[1]!.split(', ').map((c) => JSON.parse(c));
      flags.set(current.name, current.flag);
      current = undefined;
    };
    for (const line of text.split('\n')) {
      if (!/^\s/.test(line)) {
        finish();
        inFlags = /^(Flags|Global flags|Options):$/.test(line);
        continue;
      }
      if (!inFlags) continue;
      const m = /^\s+(?:-(\w), )?(?:--([\w-]+)|-(\w))(?=\s)/.exec(line);
      if (m) {
        finish();
        current = { name: (m[2] ?? m[3])!, flag: { boolean: false, ...(m[1] ? { short: m[1] } : {}) }, text: line };
      } else if (current && line.trim() !== '') current.text += ' ' + line;
    }
    finish();
    return flags;
  }

  const asHelp = (f: FlagSpec): HelpFlag => ({
    boolean: f.values === undefined,
    ...(f.short ? { short: f.short } : {}),
    ...(f.values?.kind === 'choices' ? { choices: [...f.values.choices] } : {}),
  });

  it('names the same verbs', async () => {
    const verbs = [...(await help([])).matchAll(/^\s+kubectl selfhost (\w+)/gm)].map((m) => m[1]);
    assert.deepEqual(verbs, VERBS.map((v) => v.name), 'add the verb to src/completion/spec.ts');
  });

  for (const verb of VERBS) {
    it(`${verb.name}: same flags, shorthands, booleans and choices`, async () => {
      const actual = Object.fromEntries(flagsOf(await help([verb.name])));
      const expected = Object.fromEntries([...GLOBAL_FLAGS, ...verb.flags].map((f) => [f.name, asHelp(f)]));
      assert.deepEqual(actual, expected, `src/completion/spec.ts is out of date for "${verb.name}"`);
    });
  }
});
