// What the human output shows and how the process ends: control characters from manifests escaped, the plan's
// costs as measured (an API outage in red, apart), system errors in words, a failed write to stdout.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { run } from '../../src/cli.ts';
import { steeredCost } from '../../src/core/steering.ts';
import { COMPONENT_INFO } from '../../src/core/components.ts';
import { escapeTerminal, escapeTerminalBlock } from '../../src/ui/escape.ts';
import { bufferIo, FIXTURES, REPO } from './helpers.ts';

const manifests = join(FIXTURES, 'kubeadm', 'v1.34.4');
const dir = mkdtempSync(join(tmpdir(), 'selfhost-out-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]) {
  const io = bufferIo({ HOME: '/nonexistent' });
  const code = await run(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('terminal control characters from manifests', () => {
  it('escapeTerminal shows ESC as ^[ (as kubectl) and every other control character as \\xNN; blocks keep newlines', () => {
    assert.equal(escapeTerminal('v1\x1b[2J\r\n\t\x07\x9b'), 'v1^[[2J\\r\\n\\t\\x07\\x9b');
    assert.equal(escapeTerminalBlock('a\x1b]0;x\x07\nb\tc'), 'a^[]0;x\\x07\nb\tc');
    assert.equal(escapeTerminal('kube-apiserver:v1.34.4 ü'), 'kube-apiserver:v1.34.4 ü');
  });

  it('an image tag that clears the screen reaches the node table, the diff and the steps escaped', async () => {
    const copy = join(dir, 'escape');
    cpSync(manifests, copy, { recursive: true });
    const file = join(copy, 'kube-apiserver.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/image: (\S+)/, 'image: "$1\\e[2J\\e[H"'));
    for (const color of ['never', 'always']) {
      const r = await cli(['plan', '--manifests-dir', copy, '--color', color]);
      assert.equal(r.code, 1, r.err);
      // chalk's own colour codes (ESC [ ... m) are the only escape sequences left
      assert.doesNotMatch(r.out.replace(/\x1b\[[0-9;]*m/g, ''), /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
      assert.match(r.out, /local\s+kube-apiserver\s+\S+\s+-\s+v1\.34\.4\^\[\[2J\^\[\[H/);
    }
  });
});

describe('the plan\'s costs', () => {
  it('match the README\'s measured figures', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    // The restart's cost: the first pivot's row when port sharing was added by restarting the static pods.
    const restarted = /port sharing by \*\*restarting\*\* each static pod[^:]*: \d+ \/ \d+ \/ ([\d.]+) s/.exec(readme);
    assert.ok(restarted, 'README "Measured on the test bed" has the restarted first pivot\'s longest gap');
    const claimed = /\((\d+) s without an answer/.exec(COMPONENT_INFO['kube-apiserver'].restartCost);
    assert.ok(claimed, COMPONENT_INFO['kube-apiserver'].restartCost);
    assert.equal(Number(claimed[1]), Math.round(Number(restarted[1])));
    assert.match(readme, new RegExp(`an API outage of\\s+${claimed[1]} s`));
    // The single-node table: steered node and in-cluster, wall time, then the same before steering.
    const cell = String.raw`(\d+) \/ \**(\d+)\** \/ ([\d.]+) s`;
    const row = (label: string) => new RegExp(String.raw`\| ${label}[^|]*\| ${cell} \| ${cell} \| \d+ s \| ${cell} \| ${cell} \| \d+ s \|`, 'g');
    // An unsteered hand-over's cost: the before-steering columns of the pivot-again row, no in-cluster gap above the bound.
    const handover = row('our pivot again').exec(readme);
    assert.ok(handover, 'README has the hand-over row');
    const cost = COMPONENT_INFO['kube-apiserver'].handoverCost;
    const bound = /the longest gap under ([\d.]+) s/.exec(cost);
    const inCluster = /gaps of up to (\d+) s/.exec(cost);
    assert.ok(bound && inCluster, cost);
    assert.ok(Number(handover[9]) < Number(bound[1]) && Math.round((100 * Number(handover[8])) / Number(handover[7])) === 1, cost);
    const rows = [...readme.matchAll(row('our '))];
    assert.ok(rows.length >= 4, `the rows of our hand-overs: ${rows.length}`);
    const gaps = rows.map((m) => Number(m[12]));
    assert.ok(Math.max(...gaps) <= Number(inCluster[1]), `in-cluster gaps ${gaps.join(', ')} within ${inCluster[1]} s`);
    // A steered hand-over's cost ("none expected"): no failure in the steered columns of any of our rows.
    assert.match(steeredCost({ how: 'steer', arch: 'amd64', migrate: true }), /^none expected/);
    assert.deepEqual(rows.map((m) => `${m[2]} ${m[5]}`), rows.map(() => '0 0'), 'steered: none failed at the node or in-cluster');
    assert.doesNotMatch(JSON.stringify(COMPONENT_INFO), /typically|10-30/);
  });

  it('an API outage is red and labelled, set apart from the yellow costs, and summed up before the footer', async () => {
    const r = await cli(['plan', '--manifests-dir', manifests, '--color', 'always']);
    const outage = r.out.split('\n').filter((l) => l.includes('API outage\x1b[22m\x1b[39m\x1b[31m:') || l.includes('API outage: step'));
    assert.ok(outage.length >= 2, r.out);
    assert.match(outage[0]!, /cost:\x1b\[22m \x1b\[31m\x1b\[1mAPI outage\x1b\[22m\x1b\[39m\x1b\[31m: this node's apiserver is down/);
    assert.match(r.out, /\x1b\[31m\x1b\[1mAPI outage: step \d+ restarts a kube-apiserver \(see the cost\)\.\x1b\[22m\x1b\[39m\nPlan: /);
    assert.match(r.out, /cost:\x1b\[22m \x1b\[33mno API outage; new pods wait to be scheduled/, 'other costs stay yellow');
  });
});

describe('system errors in words', () => {
  it('a symbolic link loop as --kubeconfig is one line, without a raw ELOOP; in the manifests directory it is skipped, as the kubelet does', async () => {
    const loopDir = join(dir, 'loop');
    cpSync(manifests, loopDir, { recursive: true });
    symlinkSync(join(loopDir, 'loop.yaml'), join(loopDir, 'loop.yaml'));
    const r = await cli(['plan', '--kubeconfig', join(loopDir, 'loop.yaml')]);
    assert.equal(r.code, 3, r.err);
    assert.equal(r.err.trimEnd().split('\n').length, 1);
    assert.match(r.err, /loop\.yaml.*a symbolic link loop \(a link that leads back to itself\) \(ELOOP\)/);
    assert.doesNotMatch(r.err, /^error: ELOOP|too many symbolic links/);
    const d = await cli(['plan', '--manifests-dir', loopDir]);
    assert.equal(d.code, 1, d.err);
    assert.match(d.out, /loop\.yaml is left alone: cannot be read/);
    assert.doesNotMatch(d.out + d.err, /ELOOP/);
  });
});

describe('a --manifests-dir that cannot be read is one line naming the path and the fix, in words', () => {
  const loop = join(dir, 'dir-loop');
  symlinkSync(loop, loop);
  const file = join(manifests, 'kube-apiserver.yaml');
  for (const [what, path, reason] of [
    ['a path that does not exist', '/nonexistent', /no such directory/],
    ['a symbolic link loop', loop, /a symbolic link loop/],
    ['a file', file, /not a directory/],
  ] as const) {
    it(what, async () => {
      const r = await cli(['plan', '--manifests-dir', path]);
      assert.equal(r.code, 3, r.err);
      assert.equal(r.out, '');
      assert.equal(r.err.trimEnd().split('\n').length, 1, r.err);
      assert.ok(r.err.startsWith(`error: cannot read --manifests-dir ${path}: `), r.err);
      assert.match(r.err, reason);
      assert.match(r.err, /; pass a kubeadm static pod directory such as \/etc\/kubernetes\/manifests\n$/);
      // Node's own wording names the system call: "ENOENT: no such file or directory, stat '/nonexistent'".
      assert.doesNotMatch(r.err, /\b(stat|lstat|scandir|open) '|too many symbolic links encountered|, stat\b/);
    });
  }
});

describe('a failed write to stdout', { skip: !existsSync('/dev/full') && 'needs /dev/full (Linux)' }, () => {
  it('plan -o json > /dev/full: one line, exit 6 (not 1, "changes planned"), no stack trace', () => {
    const full = openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [join(REPO, 'src', 'main.ts'), 'plan', '--manifests-dir', manifests, '-o', 'json'], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 6, r.stderr);
      assert.equal(r.stderr, 'error: cannot write the output to standard output: no space left on the device (ENOSPC)\n');
    } finally {
      closeSync(full);
    }
  });
});

describe('errors nothing maps', () => {
  it('are reported as a bug, one line, exit 6', async () => {
    const io = { ...bufferIo(), out: () => { throw new TypeError('x is not a function'); } };
    const code = await run(['version'], io);
    assert.equal(code, 6);
    assert.equal(io.stderr(), 'error: unexpected internal error (a bug: please report it with the output of -v=6): x is not a function\n');
  });
});
