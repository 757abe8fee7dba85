// Loads the kubeconfig as kubectl does: --kubeconfig, else KUBECONFIG (paths merged, first wins), else
// ~/.kube/config; then --context/--cluster/--user pick the entries, and the connection flags (--server, --token,
// --certificate-authority, --client-certificate, --client-key, --insecure-skip-tls-verify, --tls-server-name,
// --as, --as-group, --as-uid) override what those entries say, with client-go's precedence (clientcmd
// DirectClientConfig). With --server and no kubeconfig at all, the flags alone make the connection, as in kubectl.
// client-node is loaded here, lazily: offline verbs never pay for it.
import { readFileSync, statSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Cluster, KubeConfig, User } from '@kubernetes/client-node';
import { ConfigError, UsageError } from '../core/errors.ts';
import { describeSystemError } from '../core/system-errors.ts';
import type { Globals } from '../globals.ts';
import { checkTlsMaterial, type Material } from './tls-material.ts';

export interface LoadedConfig {
  kc: KubeConfig;
  /** The context's name, or "(flags)" when --server made the connection without a kubeconfig context. */
  context: string;
  server: string;
  /** How to point kubectl at the same place in a hint: "--context prod" or "--server https://...". */
  kubectlArgs: string;
  /** The same in words, for messages: 'context "prod"' or "--server https://...". */
  where: string;
  /** Credentials, TLS settings and impersonation headers onto one request's options. */
  applyTo(opts: RequestOptions): Promise<void>;
}

export type ConnectionFlags = Pick<Globals, 'kubeconfig' | 'context' | 'cluster' | 'user' | 'server' | 'token' | 'certificateAuthority' | 'clientCertificate' | 'clientKey' | 'insecureSkipTlsVerify' | 'tlsServerName' | 'as' | 'asGroups' | 'asUid'>;

export async function loadKubeConfig(g: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  if (g.insecureSkipTlsVerify && g.certificateAuthority !== undefined) {
    throw new UsageError('--certificate-authority and --insecure-skip-tls-verify contradict each other (kubectl refuses both); pass one');
  }
  const present = kubeconfigFiles(g, env);
  // Only now load client-node: a missing kubeconfig is reported without paying for it.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  // kubectl's merge rule: the first file to set a value wins, including current-context.
  for (const file of present) {
    const one = new KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (err) {
      throw new ConfigError(`cannot read kubeconfig ${file}: ${describeSystemError(err)}; fix the file or point --kubeconfig elsewhere`);
    }
    mergeFirstWins(kc, one);
  }

  const contextName = g.context ?? kc.getCurrentContext();
  let cluster: Cluster;
  let user: User;
  let context = contextName;
  if (!contextName && g.server !== undefined && g.cluster === undefined && g.user === undefined) {
    // kubectl --server without a context: nothing from the kubeconfig, the flags are the whole connection.
    cluster = { name: 'flags', server: g.server, skipTLSVerify: false };
    user = { name: 'flags' };
    context = '(flags)';
  } else {
    if (!contextName) throw new ConfigError('the kubeconfig has no current context; pass --context or run "kubectl config use-context NAME"');
    const ctx = kc.getContextObject(contextName);
    if (!ctx) {
      const known = kc.getContexts().map((c) => c.name).join(', ') || 'none';
      throw new ConfigError(`context "${contextName}" not found in the kubeconfig (known: ${known}); pass one of those to --context`);
    }
    const clusterName = g.cluster ?? ctx.cluster;
    const userName = g.user ?? ctx.user;
    const c = kc.getCluster(clusterName);
    if (!c) throw new ConfigError(`cluster "${clusterName}" not found in the kubeconfig; check --cluster or the context "${contextName}"`);
    const u = kc.getUser(userName);
    if (!u) throw new ConfigError(`user "${userName}" not found in the kubeconfig; check --user or the context "${contextName}"`);
    [cluster, user] = [c, u];
  }
  cluster = clusterWithFlags(cluster, g);
  user = userWithFlags(user, g);
  if ((g.asGroups?.length || g.asUid !== undefined) && !user.impersonateUser) {
    throw new UsageError('--as-group and --as-uid need --as (the user to impersonate), as in kubectl');
  }
  if (!/^https?:\/\/./.test(cluster.server)) {
    throw new ConfigError(`the server "${cluster.server}" of ${context === '(flags)' ? '--server' : `cluster "${cluster.name}"`} is not an http(s) URL; use one such as https://10.0.0.1:6443`);
  }
  checkTlsMaterial(materials(cluster, user, g));

  const effective = new KubeConfig();
  effective.loadFromOptions({ clusters: [cluster], users: [user], contexts: [{ name: 'effective', cluster: cluster.name, user: user.name }], currentContext: 'effective' });
  const kubectlArgs = context === '(flags)' ? `--server ${cluster.server}` : `--context ${context}`;
  return {
    kc: effective, context, server: cluster.server, kubectlArgs, where: context === '(flags)' ? kubectlArgs : `context "${context}"`,
    async applyTo(opts) {
      try {
        await effective.applyToHTTPSOptions(opts);
      } catch (err) {
        throw new ConfigError(`cannot get the credentials of user "${user.name}" from the kubeconfig: ${describeSystemError(err)}; check the user's exec plugin or token, or pass --token`, { cause: err });
      }
      // client-node sends Impersonate-User (from `as`) but knows no groups or UID; an array becomes one header each.
      const headers = (opts.headers ??= {}) as Record<string, string | string[]>;
      if (g.asGroups?.length) headers['Impersonate-Group'] = [...g.asGroups];
      if (g.asUid !== undefined) headers['Impersonate-Uid'] = g.asUid;
    },
  };
}

/** The kubeconfig files to merge, as kubectl finds them; a --kubeconfig that cannot be read is an error. */
function kubeconfigFiles(g: Pick<Globals, 'kubeconfig' | 'server'>, env: NodeJS.ProcessEnv): string[] {
  if (g.kubeconfig !== undefined) {
    try {
      if (!statSync(g.kubeconfig).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    } catch (err) {
      const code = (err as { code?: string }).code;
      const why = code === 'ENOENT' ? 'does not exist' : `cannot be read: ${describeSystemError(err)}`;
      throw new ConfigError(`kubeconfig ${g.kubeconfig} ${why}; pass the path of a readable kubeconfig to --kubeconfig`);
    }
    return [g.kubeconfig];
  }
  const files = (env['KUBECONFIG'] ?? '').split(delimiter).filter(Boolean);
  const candidates = files.length > 0 ? files : [join(env['HOME'] ?? homedir(), '.kube', 'config')];
  const present = candidates.filter((f) => {
    try {
      return statSync(f).isFile();
    } catch {
      return false; // kubectl skips KUBECONFIG entries that do not exist
    }
  });
  if (present.length === 0 && g.server === undefined) {
    throw new ConfigError(`no kubeconfig found (looked at ${candidates.join(', ')}); set KUBECONFIG, pass --kubeconfig, or pass --server`);
  }
  return present;
}

/** clientcmd's getCluster: flags override; a CA or insecure flag replaces the kubeconfig's CA settings; --server resets tls-server-name. */
function clusterWithFlags(c: Cluster, g: ConnectionFlags): Cluster {
  const out: { -readonly [K in keyof Cluster]: Cluster[K] } = { ...c, server: g.server ?? c.server };
  if (g.certificateAuthority !== undefined || g.insecureSkipTlsVerify) {
    delete out.caData;
    delete out.caFile;
    Object.assign(out, { skipTLSVerify: g.insecureSkipTlsVerify === true }, g.certificateAuthority !== undefined ? { caFile: g.certificateAuthority } : {});
  }
  if (g.tlsServerName !== undefined || g.server !== undefined) {
    delete out.tlsServerName;
    if (g.tlsServerName !== undefined) out.tlsServerName = g.tlsServerName;
  }
  // Plain http (kubectl proxy's http://127.0.0.1:8001) has no TLS to verify; client-node refuses it unless told so.
  if (out.server.startsWith('http://')) out.skipTLSVerify = true;
  return out;
}

/** A flag replaces the same credential in the kubeconfig user; --token also stops exec plugins and basic auth. */
function userWithFlags(u: User, g: ConnectionFlags): User {
  const out: Record<string, unknown> = { ...u };
  if (g.token !== undefined) {
    for (const k of ['exec', 'authProvider', 'username', 'password']) delete out[k];
    out['token'] = g.token;
  }
  if (g.clientCertificate !== undefined) {
    delete out['certData'];
    out['certFile'] = g.clientCertificate;
  }
  if (g.clientKey !== undefined) {
    delete out['keyData'];
    out['keyFile'] = g.clientKey;
  }
  if (g.as !== undefined) out['impersonateUser'] = g.as;
  return out as unknown as User;
}

function materials(c: Cluster, u: User, g: ConnectionFlags): Parameters<typeof checkTlsMaterial>[0] {
  const from = (file: string | undefined, data: string | undefined, flag: string | undefined, field: string, owner: string): Material | undefined => {
    if (flag !== undefined) return { where: `--${field} ${flag}`, fromFlag: true, read: () => readFileSync(flag) };
    if (file) return { where: `${field} ${file} of ${owner}`, fromFlag: false, read: () => readFileSync(file) };
    if (data) return { where: `${field}-data of ${owner} in the kubeconfig`, fromFlag: false, read: () => Buffer.from(data, 'base64') };
    return undefined;
  };
  return {
    ca: c.skipTLSVerify ? undefined : from(c.caFile, c.caData, g.certificateAuthority, 'certificate-authority', `cluster "${c.name}"`),
    cert: from(u.certFile, u.certData, g.clientCertificate, 'client-certificate', `user "${u.name}"`),
    key: from(u.keyFile, u.keyData, g.clientKey, 'client-key', `user "${u.name}"`),
  };
}

function mergeFirstWins(into: KubeConfig, from: KubeConfig): void {
  const merged = {
    clusters: [...into.getClusters(), ...from.getClusters().filter((c) => !into.getCluster(c.name))],
    users: [...into.getUsers(), ...from.getUsers().filter((u) => !into.getUser(u.name))],
    contexts: [...into.getContexts(), ...from.getContexts().filter((c) => !into.getContextObject(c.name))],
    currentContext: into.getCurrentContext() || from.getCurrentContext(),
  };
  into.loadFromOptions(merged);
}
