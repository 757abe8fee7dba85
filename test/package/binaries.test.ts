// The single executables `npm run package` built into dist/bin: linux/amd64 natively, linux/arm64 under qemu-user,
// windows/amd64 under wine, and the two macOS ones (which nothing here can run) by reading their Mach-O: the SEA
// segment and an ad-hoc signature whose page hashes match the bytes shipped. Each must answer like the bundle.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cacheDir } from '../../scripts/package/cache.mjs';
import { CPU, checkMachO } from './macho.ts';

const REPO = join(import.meta.dirname, '..', '..');
const exe = (os: string, arch: string) => join(REPO, 'dist', 'bin', `${os}-${arch}`, os === 'windows' ? 'kubectl-selfhost.exe' : 'kubectl-selfhost');
const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;
const nodeVersion = `v${JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).devDependencies.node}`;
const FIXTURE = 'test/fixtures/kubeadm/v1.34.4'; // relative: wine sees the repository as Z:\...
const PLAN_YAML = ['plan', '--manifests-dir', FIXTURE, '-o', 'yaml'];
const missing = (f: string) => !existsSync(f) && `${f} is missing: run npm run package first`;
const scratch = mkdtempSync(join(tmpdir(), 'selfhost-binaries-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { cwd: REPO, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (r.error) throw r.error;
  return { code: r.status, out: String(r.stdout ?? ''), err: String(r.stderr ?? '') };
}

/** The reference: the same commands through the bundle the executables embed. */
const bundle = (args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, ['dist/kubectl-selfhost.cjs', ...args], { env: { ...process.env, ...env } });
const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function assertVersion(out: string, platform: string) {
  const v = JSON.parse(out);
  assert.equal(v.version, version);
  assert.match(v.commit, /^[0-9a-f]{7,}$|^unknown$/);
  assert.equal(v.node, nodeVersion);
  assert.equal(v.platform, platform);
  assert.deepEqual(v.nodeHelper, ['amd64', 'arm64'], 'the node helper is inside the executable');
}

describe('linux/amd64 executable', { skip: missing(exe('linux', 'amd64')) }, () => {
  const bin = exe('linux', 'amd64');
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };

  it('prints version, commit and Node version', () => {
    const r = run(bin, ['version', '-o', 'json'], { env });
    assert.equal(r.code, 0, r.err);
    assertVersion(r.out, 'linux/x64');
    assert.match(run(bin, ['version'], { env }).out, new RegExp(`^kubectl-selfhost ${version.replaceAll('.', '\\.')} \\(commit \\w+, node ${nodeVersion}, linux/x64; node helper: amd64, arm64\\)`));
  });

  it('plans offline exactly as the bundle does (text and YAML, exit 1 for changes)', () => {
    for (const args of [['plan', '--manifests-dir', FIXTURE, '--color', 'never'], PLAN_YAML]) {
      const r = run(bin, args, { env });
      const ref = bundle(args, env);
      assert.equal(r.code, 1, r.err);
      assert.equal(r.out, ref.out);
    }
  });

  it('ignores NODE_OPTIONS (execArgvExtension "none")', () => {
    const r = run(bin, ['version'], { env: { ...env, NODE_OPTIONS: '--require /nonexistent/preload.js' } });
    assert.equal(r.code, 0, r.err);
  });

  it('loads client-node from its SEA asset for a verb that talks to a cluster', () => {
    const dir = scratch;
    // 127.0.0.1:1 refuses at once: the test stays on loopback and reaches the point where client-node did its part
    writeFileSync(join(dir, 'config'), 'apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n');
    const r = run(bin, ['status', '--kubeconfig', join(dir, 'config'), '--request-timeout', '5s'], { env });
    assert.match(r.err, /cannot reach the API server https:\/\/127\.0\.0\.1:1/);
  });

  it('answers completion as the bundle does, also through the shipped kubectl_complete-selfhost', () => {
    for (const words of [[''], ['plan', '--c'], ['pivot', '--dry-run', ''], ['plan', '--components', 'kube-apiserver,']]) {
      const r = run(bin, ['__complete', ...words], { env });
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, bundle(['__complete', ...words], env).out);
      const viaScript = run('sh', [join(REPO, 'src', 'completion', 'kubectl_complete-selfhost'), ...words], { env: { ...env, PATH: `${join(REPO, 'dist', 'bin', 'linux-amd64')}:${env['PATH']}` } });
      assert.equal(viaScript.out, r.out);
    }
  });
});

describe('linux/arm64 executable under qemu-user', () => {
  const bin = exe('linux', 'arm64');
  const sysroot = '/usr/aarch64-linux-gnu';
  const skip = missing(bin) || (!onPath('qemu-aarch64-static') && 'qemu-aarch64-static is not installed (apt-get install qemu-user-static)')
    || (!existsSync(join(sysroot, 'lib', 'ld-linux-aarch64.so.1')) && 'no arm64 glibc to run it with (apt-get install libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)');
  const qemu = (args: string[]) => run('qemu-aarch64-static', ['-L', sysroot, bin, ...args], { env: { ...process.env, NO_COLOR: '1' }, timeout: 300_000 });

  it('prints its version and plans offline as the bundle does', { skip }, () => {
    const v = qemu(['version', '-o', 'json']);
    assert.equal(v.code, 0, v.err);
    assertVersion(v.out, 'linux/arm64');
    const r = qemu(PLAN_YAML);
    assert.equal(r.code, 1, r.err);
    assert.equal(r.out, bundle(PLAN_YAML).out);
  });
});

describe('windows/amd64 executable under wine', () => {
  const bin = exe('windows', 'amd64');
  const skip = missing(bin) || (!onPath('wine') && 'wine is not installed (apt-get install wine wine64)');

  /** wine's pipes fail Node's stdio (EBADF), so output goes through files. */
  function wine(args: string[]) {
    const prefix = join(cacheDir(), 'wine', 'prefix');
    const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', NO_COLOR: '1' };
    if (!existsSync(join(prefix, '.selfhost-win10'))) {
      mkdirSync(prefix, { recursive: true });
      // Node 22 refuses the Windows 7 a fresh wine prefix reports
      assert.equal(run('wine', ['winecfg', '-v', 'win10'], { env, timeout: 300_000 }).code, 0);
      writeFileSync(join(prefix, '.selfhost-win10'), '');
    }
    const dir = mkdtempSync(join(scratch, 'wine-'));
    const r = spawnSync('wine', [bin, ...args], { cwd: REPO, env, timeout: 300_000, stdio: ['ignore', openSync(join(dir, 'out'), 'w'), openSync(join(dir, 'err'), 'w')] });
    return { code: r.status, out: readFileSync(join(dir, 'out'), 'utf8'), err: readFileSync(join(dir, 'err'), 'utf8') };
  }

  it('prints its version and plans offline as the bundle does', { skip }, () => {
    const v = wine(['version', '-o', 'json']);
    assert.equal(v.code, 0, v.err);
    assertVersion(v.out, 'win32/x64');
    const r = wine(PLAN_YAML);
    assert.equal(r.code, 1, r.err);
    assert.equal(r.out.replaceAll('\r\n', '\n'), bundle(PLAN_YAML).out);
  });
});

describe('darwin executables (cannot run here: checked as Mach-O files)', () => {
  for (const [arch, cpu] of [['amd64', CPU.x86_64], ['arm64', CPU.arm64]] as const) {
    it(`darwin/${arch}: right CPU, NODE_SEA segment, valid ad-hoc signature over the shipped bytes`, { skip: missing(exe('darwin', arch)) }, () => {
      const file = readFileSync(exe('darwin', arch));
      const m = checkMachO(file);
      assert.equal(m.cpu, cpu);
      assert.ok(m.segments.includes('NODE_SEA'), `segments: ${m.segments}`);
      assert.ok(m.signed && m.adhoc, 'ad-hoc signed');
      assert.deepEqual(m.badPages, [], 'every page hash matches');
    });
  }

  it('every executable has its SEA fuse flipped (postject injected a blob)', { skip: missing(exe('darwin', 'arm64')) }, () => {
    for (const [os, arch] of [['linux', 'amd64'], ['linux', 'arm64'], ['darwin', 'amd64'], ['darwin', 'arm64'], ['windows', 'amd64']]) {
      assert.ok(readFileSync(exe(os!, arch!)).includes('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1'), `${os}/${arch}`);
    }
  });
});
