// The command line as a kubectl user types it: kubectl's spellings, repeated flags, bad values (each one line, exit
// 2, naming the value and what is accepted), the footer that repeats the command, help with examples and exit codes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { run } from '../../src/cli.ts';
import { VERBS } from '../../src/commands/verbs.ts';
import { parseComponents, PIVOT_ORDER } from '../../src/core/components.ts';
import { EXIT_CODE_DOCS, OutputError } from '../../src/core/errors.ts';
import { buildPlan } from '../../src/core/plan.ts';
import { globalsFrom } from '../../src/globals.ts';
import { checkHealthy } from '../../src/pivot/preflight.ts';
import { readManifestsDir } from '../../src/sources/manifests-dir.ts';
import { bufferIo, FIXTURES, REPO } from './helpers.ts';

const manifests = join(FIXTURES, 'kubeadm', 'v1.34.4');
const offline = ['plan', '--manifests-dir', manifests];

async function cli(args: string[]) {
  const io = bufferIo({ HOME: '/nonexistent' });
  const code = await run(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

async function usageError(args: string[], pattern: RegExp) {
  const r = await cli(args);
  assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
  assert.match(r.err, pattern);
  assert.equal(r.err.trimEnd().split('\n').length, 1, `one line: ${r.err}`);
  assert.match(r.err, /^error: [a-z-]/);
  assert.equal(r.out, '');
}

const planned = (out: string) => (JSON.parse(out) as { components: Array<{ component: string }> }).components.map((c) => c.component);

describe('--components', () => {
  it('given but empty ("" or ",,") is a usage error, not "everything" or "nothing to do"', async () => {
    await usageError([...offline, '--components', ''], /--components needs a value \(one or more of kube-apiserver, /);
    await usageError([...offline, '--components', ',,'], /--components needs a value/);
    await usageError([...offline, '--components= , '], /--components needs a value/);
  });

  it('repeated, the lists add up (kubectl\'s list flags); short names and duplicates are fine', async () => {
    const r = await cli([...offline, '-o', 'json', '--components', 'apiserver', '--components', 'scheduler,kube-apiserver']);
    assert.equal(r.code, 1, r.err);
    assert.deepEqual(planned(r.out), ['kube-scheduler', 'kube-apiserver']);
  });

  it('an unknown name anywhere in the list is refused', () => usageError([...offline, '--components', 'scheduler', '--components', 'etcd'], /unknown component "etcd"/));
});

describe('bad choices name the value and the choices', () => {
  for (const [args, pattern] of [
    [[...offline, '-o', 'bogus'], /^error: invalid --output "bogus": use json or yaml\n$/],
    [[...offline, '--color', 'rainbow'], /^error: invalid --color "rainbow": use auto, always or never\n$/],
    [['pivot', '--dry-run=bogus'], /^error: invalid --dry-run "bogus": use none, client or server\n$/],
    [['version', '-o', 'yaml'], /^error: invalid --output "yaml": use json\n$/],
  ] as const) {
    it(args.filter((a) => a !== manifests).join(' '), () => usageError([...args], pattern));
  }
});

describe('repeated one-value flags: the last one wins, as in kubectl', () => {
  it('-o json -o yaml prints YAML; -o yaml -o json prints JSON', async () => {
    assert.match((await cli([...offline, '-o', 'json', '-o', 'yaml'])).out, /^---\napiVersion: apps\/v1\nkind: DaemonSet/);
    assert.equal(JSON.parse((await cli([...offline, '-o', 'yaml', '-o', 'json'])).out).kind, 'Plan');
  });

  it('-ojson and -o=json are -o json', async () => {
    for (const spelled of [['-ojson'], ['-o=json'], ['--output=json'], ['--output', 'json']]) {
      assert.equal(JSON.parse((await cli([...offline, ...spelled])).out).kind, 'Plan', spelled.join(' '));
    }
  });
});

describe('-v as kubectl spells it', () => {
  const stack = async (v: string[]) => /\n\s+at /.test((await cli(['plan', '--manifests-dir', '/nonexistent', ...v])).err);
  it('-v=6, -v 6, --v=6, --v 6, -v6 and -v10 print the stack of an error; -v5 and no -v do not', async () => {
    for (const v of [['-v=6'], ['-v', '6'], ['--v=6'], ['--v', '6'], ['-v6'], ['-v10']]) assert.equal(await stack(v), true, v.join(' '));
    for (const v of [['-v5'], []]) assert.equal(await stack(v), false, v.join(' '));
  });
  it('the last -v wins', async () => assert.equal(await stack(['-v9', '-v=2']), false));
  it('refuses levels that are not integers', async () => {
    await usageError([...offline, '-v=abc'], /invalid -v "abc": use a log level/);
    await usageError([...offline, '-v', '1.5'], /invalid -v "1\.5"/);
    await usageError([...offline, '--v='], /-v needs a value/);
  });
  for (const spelled of [['-v99'], ['-v11'], ['--v=11'], ['-v', '1000000000']]) {
    it(`refuses ${spelled.join(' ')}: the levels run from 0 to 10, as the error says`, () =>
      usageError([...offline, ...spelled], /^error: invalid -v "\d+": use a log level from 0 to 10 /));
  }
  it('accepts the ends of the range, -v0 and -v10', async () => {
    for (const v of ['-v0', '-v10']) assert.equal((await cli([...offline, v, '-o', 'json'])).code, 1, v);
  });
});

describe('values that look like flags, empty values, booleans', () => {
  it('--timeout -5s is a bad duration, not two flags', () => usageError(['pivot', '--timeout', '-5s'], /^error: invalid --timeout "-5s": use a positive duration such as 30s/));
  it('--timeout 0 and --request-timeout -1s are refused; --request-timeout 0 means no limit', async () => {
    await usageError(['pivot', '--timeout=0'], /invalid --timeout "0"/);
    await usageError([...offline, '--request-timeout', '-1s'], /invalid --request-timeout "-1s": use a duration .*\(0 for no limit\)/);
    assert.equal((await cli([...offline, '--request-timeout', '0', '-o', 'json'])).code, 1);
  });
  it('--manifests-dir "" is refused instead of reading the current directory', () => usageError(['plan', '--manifests-dir', ''], /^error: --manifests-dir needs a value \(a directory such as \/etc\/kubernetes\/manifests\)/));
  it('a flag at the end without its value', () => usageError(['plan', '--context'], /^error: --context needs a value/));
  it('--exact=maybe is refused; --exact=false and -y=true are accepted (the command goes on to the kubeconfig)', async () => {
    await usageError(['rollback', '--exact=maybe'], /^error: invalid --exact "maybe": use --exact, --exact=true or --exact=false/);
    await usageError(['rollback', '--yes=sure'], /invalid --yes "sure"/);
    for (const args of [['rollback', '--exact=false'], ['rollback', '-y=true', '--exact=1'], ['rollback', '-y', '--insecure-skip-tls-verify=F']]) {
      const r = await cli([...args, '--kubeconfig', '/nonexistent/config']);
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.err}`);
    }
  });
  it('an unknown command says so', () => usageError(['bogus'], /^error: unknown command "bogus": use plan, pivot, status, rollback, version or rbac/));
});

describe('defaults', () => {
  it('--request-timeout is 30s unless given, so no request waits forever silently', () => {
    assert.equal(globalsFrom({}).requestTimeoutMs, 30_000);
    assert.equal(globalsFrom({ 'request-timeout': '0' }).requestTimeoutMs, 0);
    assert.equal(globalsFrom({ 'request-timeout': '1m30s' }).requestTimeoutMs, 90_000);
  });
});

describe('the plan\'s last line repeats the command with its flags', () => {
  /** The words a POSIX shell makes of the printed command line. */
  const shellWords = (line: string) => spawnSync('sh', ['-c', `for w in ${line}; do printf '%s\\n' "$w"; done`], { encoding: 'utf8' }).stdout.split('\n').slice(0, -1);

  it('offline: every flag pivot takes, quoted for the shell; plan-only flags and the token left out', async () => {
    const r = await cli([...offline, '--context', "ops's cluster", '--components', 'scheduler', '--components', 'apiserver', '-v6', '--color', 'never', '--token', 's3cret', '--as', 'alice', '--as-group', 'a b', '--as-group', 'c']);
    assert.equal(r.code, 1, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines.at(-2)!, /^Plan: 2 component\(s\) to pivot in \d+ steps\. To apply it, run on the cluster these manifests come from:$/);
    const words = shellWords(lines.at(-1)!.trim());
    assert.deepEqual(words, ['kubectl', 'selfhost', 'pivot', "--context=ops's cluster", '--token=REDACTED', '--as=alice', '--as-group=a b', '--as-group=c', '-v=6', '--color=never', '--components=scheduler,apiserver']);
    assert.doesNotMatch(r.out, /s3cret/);
  });

  it('without flags it is the bare command', async () => {
    const r = await cli(offline);
    assert.equal(r.out.trimEnd().split('\n').at(-1), '  kubectl selfhost pivot');
  });

  /** The lines after the last blank one: what the plan ends with. */
  const footer = (out: string) => out.trimEnd().split('\n').reverse().join('\n').split('\n\n')[0]!.split('\n').reverse();
  const pivotLines = (lines: string[]) => lines.filter((l) => /^\s*kubectl selfhost pivot\b/.test(l));

  it('blocked, with components pivot would take: names what blocks, and offers pivot with only those, which pivot accepts', async () => {
    const dir = join(FIXTURES, 'corpus', 'audit-v1.28'); // no scheduler, no controller-manager: both blocked
    const r = await cli(['plan', '--manifests-dir', dir, '--context', 'prod']);
    assert.equal(r.code, 5, r.err);
    const end = footer(r.out);
    const snapshot = readManifestsDir(dir);
    const whole = buildPlan(snapshot, { components: [...PIVOT_ORDER] }, new Date(0));
    for (const b of whole.components.filter((c) => c.action === 'blocked')) {
      assert.ok(end.some((l) => l.includes(b.component) && l.includes(b.reason)), `${b.component} and why: ${end.join('\n')}`);
    }
    const offered = pivotLines(end);
    assert.equal(offered.length, 1, end.join('\n'));
    assert.equal(offered[0], end.at(-1), 'the command alone on the last line');
    const words = shellWords(offered[0]!.trim());
    assert.ok(words.includes('--context=prod'), 'the flags given are kept');
    const components = parseComponents(words.filter((w) => w.startsWith('--components=')).map((w) => w.slice('--components='.length)));
    assert.notDeepEqual(components, [...PIVOT_ORDER], 'limited to what pivot accepts');
    // What pivot refuses on (src/pivot/pivot.ts): a selected component that is unhealthy, missing or blocked.
    assert.doesNotThrow(() => checkHealthy(snapshot, components));
    const limited = buildPlan(snapshot, { components }, new Date(0));
    assert.deepEqual(limited.components.filter((c) => c.action === 'blocked'), []);
    assert.deepEqual(limited.steps, whole.steps, 'the same steps as the plan shown');
  });

  it('blocked, with nothing pivot would take: names what blocks and offers no pivot command', async () => {
    const dir = join(FIXTURES, 'corpus', 'kubeadm-v1.16'); // every component below the supported versions
    const r = await cli(['plan', '--manifests-dir', dir]);
    assert.equal(r.code, 5, r.err);
    const end = footer(r.out);
    for (const c of PIVOT_ORDER) assert.ok(end.some((l) => l.includes(c) && /upgrade the cluster first/.test(l)), `${c}: ${end.join('\n')}`);
    assert.deepEqual(pivotLines(end), []);
    assert.doesNotMatch(end.join('\n'), /Nothing to do/);
  });
});

describe('help', () => {
  const help = async (args: string[]) => {
    const r = await cli([...args, '--help']);
    assert.equal(r.code, 0);
    return r.out;
  };

  it('documents every exit code at the top, and each verb its own, with examples', async () => {
    const top = await help([]);
    for (const [code, what] of EXIT_CODE_DOCS) assert.ok(top.includes(`  ${code}  ${what}`), `exit code ${code} in --help`);
    for (const verb of VERBS) {
      const text = await help([verb.name]);
      assert.match(text, /\nExamples:\n  # .+\n  kubectl selfhost /, `${verb.name}: examples`);
      for (const [cmd] of verb.examples) assert.ok(text.includes(`  ${cmd}\n`), `${verb.name}: ${cmd}`);
      assert.match(text, /\nExit codes:\n(  [0-6]  .+\n)+/, `${verb.name}: exit codes`);
    }
  });

  // The verbs that need no cluster: each code they can end with, provoked, must be in their help.
  for (const [verb, bad] of [['version', ['-o', 'yaml']], ['rbac', ['--bind-user', '']]] as const) {
    it(`${verb} --help documents every exit code ${verb} returns: done, a usage error, an output that could not be written`, async () => {
      const documented = [...(await help([verb])).matchAll(/^ {2}(\d) {2}/gm)].map((m) => Number(m[1]));
      const fullDisk = { ...bufferIo(), flush: () => Promise.reject(new OutputError('cannot write the output to standard output: no space left on the device (ENOSPC)')) };
      const returned = [await run([verb], bufferIo()), await run([verb, ...bad], bufferIo()), await run([verb], fullDisk)];
      assert.deepEqual(returned, [0, 2, 6]);
      for (const code of returned) assert.ok(documented.includes(code), `${verb}: exit code ${code} in --help (documents ${documented.join(', ')})`);
    });
  }

  it('the README lists the same exit codes', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    for (const [code, what] of EXIT_CODE_DOCS) assert.ok(readme.includes(`| ${code} | ${what} |`), `README: exit code ${code}`);
  });

  it('-h works after the verb, and kubectl\'s connection flags are listed', async () => {
    const text = (await cli(['plan', '-h'])).out;
    for (const flag of ['--server', '--token', '--certificate-authority', '--client-certificate', '--client-key', '--insecure-skip-tls-verify', '--tls-server-name', '--as', '--as-group', '--as-uid', '--request-timeout']) {
      assert.match(text, new RegExp(`\\s${flag}\\s`), flag);
    }
  });
});
