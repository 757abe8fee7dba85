// The real KubeApi: client-node loads the kubeconfig and applies its credentials and TLS settings (client
// certificates, tokens, exec plugins); requests are plain JSON over node:https so that objects are sent and
// received exactly as the API server has them (client-node's typed models drop fields they do not know).
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import { isIP } from 'node:net';
import { ClusterError } from '../core/errors.ts';
import { describeSystemError } from '../core/system-errors.ts';
import { ApiError, DeadlineError, type ApiProbe, type KubeApi, type ListOptions, type Obj, type WriteOptions } from './kube.ts';
import type { LoadedConfig } from './kubeconfig.ts';

/** How long one request may take, and whom to tell when it is slow (so that no command ever hangs silently). */
export interface RestOptions {
  /** --request-timeout in ms; 0 = no limit. */
  requestTimeoutMs: number;
  /** Called once for each request still unanswered after SLOW_AFTER_MS (or half its limit, if that is sooner). */
  onSlow?: (what: string, waitedMs: number) => void;
}

/** After this long without an answer a request is named: "after a few seconds, say what it waits for". */
export const SLOW_AFTER_MS = 3000;

export function restClient(cfg: LoadedConfig, opts: RestOptions): KubeApi {
  const base = new URL(cfg.server);
  const { requestTimeoutMs } = opts;

  async function send(method: string, path: string, body?: unknown, accept = 'application/json', deadline?: number, contentType = 'application/json'): Promise<{ status: number; text: string; type: string }> {
    const url = new URL(path, base);
    const what = `${method} ${path.split('?')[0]}`;
    const deadlineMs = deadline === undefined ? Infinity : deadline - Date.now();
    if (deadlineMs <= 0) throw new DeadlineError(`${what} not sent: its deadline passed ${seconds(-deadlineMs)} ago`);
    const ro: RequestOptions = { method, headers: { Accept: accept } };
    await cfg.applyTo(ro);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) (ro.headers as Record<string, string>)['Content-Type'] = contentType;
    const doRequest = url.protocol === 'http:' ? httpRequest : httpsRequest;
    const started = Date.now();
    const slowAfter = requestTimeoutMs > 0 ? Math.min(SLOW_AFTER_MS, requestTimeoutMs / 2) : SLOW_AFTER_MS;
    const slow = opts.onSlow && setTimeout(() => opts.onSlow!(what, Date.now() - started), slowAfter);
    try {
      return await new Promise((resolve, reject) => {
        const req = doRequest(url, ro, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), type: String(res.headers['content-type'] ?? '') }));
          res.on('error', (err) => reject(unreachable(cfg, what, err, requestTimeoutMs)));
        });
        if (requestTimeoutMs > 0 || deadlineMs < Infinity) {
          // A timer over the whole request (connect, TLS, answer), not an idle timeout: a server that trickles still
          // ends. A write's deadline, when sooner, ends it at that time instead.
          const byDeadline = deadlineMs < (requestTimeoutMs > 0 ? requestTimeoutMs : Infinity);
          const limit = byDeadline ? deadlineMs : requestTimeoutMs;
          const timer = setTimeout(() => req.destroy(byDeadline
            ? new DeadlineError(`${what} abandoned after ${seconds(limit)}: its deadline passed`)
            : Object.assign(new Error(`no answer within ${seconds(requestTimeoutMs)}`), { code: 'ETIMEDOUT' })), limit);
          req.on('close', () => clearTimeout(timer));
        }
        req.on('error', (err) => reject(err instanceof DeadlineError ? err : unreachable(cfg, what, err, requestTimeoutMs)));
        if (payload !== undefined) req.write(payload);
        req.end();
      });
    } finally {
      if (slow) clearTimeout(slow);
    }
  }

  /** The answer as JSON; an answer that is not JSON means the server is not a Kubernetes API server. */
  function parse<T>(method: string, path: string, res: { text: string; type: string }): T {
    try {
      return JSON.parse(res.text) as T;
    } catch (err) {
      const sample = JSON.stringify(res.text.trim().slice(0, 40));
      throw new ClusterError(`the server ${cfg.server} answered ${method} ${path.split('?')[0]} with something that is not JSON (${res.type || 'no content type'}: ${sample}); is it a Kubernetes API server? check the server of ${cfg.where}`, { cause: err });
    }
  }

  async function json<T>(method: string, path: string, body?: unknown, deadline?: number, contentType?: string): Promise<T> {
    const res = await send(method, path, body, undefined, deadline, contentType);
    if (res.status >= 200 && res.status < 300) return parse<T>(method, path, res);
    throw apiError(cfg, method, path, res.status, res.text);
  }

  const q = (path: string, params: Record<string, string | number | undefined>) => {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) s.set(k, String(v));
    const qs = s.toString();
    return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
  };
  const dry = (o?: WriteOptions) => (o?.dryRun ? 'All' : undefined);

  return {
    async get<T>(path: string) {
      const res = await send('GET', path);
      if (res.status === 404) return null;
      if (res.status >= 200 && res.status < 300) return parse<T>('GET', path, res);
      throw apiError(cfg, 'GET', path, res.status, res.text);
    },
    async list<T>(path: string, opts: ListOptions = {}) {
      const out = await json<{ items: T[] }>('GET', q(path, { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector }));
      return out.items ?? [];
    },
    create: <T extends Obj>(path: string, body: T, o?: WriteOptions) => json<T>('POST', q(path, { dryRun: dry(o) }), body, o?.deadline),
    replace: <T extends Obj>(path: string, body: T, o?: WriteOptions) => json<T>('PUT', q(path, { dryRun: dry(o) }), body, o?.deadline),
    patch: <T>(path: string, body: object, o?: WriteOptions) => json<T>('PATCH', q(path, { dryRun: dry(o) }), body, o?.deadline, 'application/merge-patch+json'),
    async delete(path, o = {}) {
      const body = { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: o.gracePeriodSeconds, propagationPolicy: o.propagationPolicy, dryRun: o.dryRun ? ['All'] : undefined };
      const res = await send('DELETE', path, body, undefined, o.deadline);
      if (res.status === 404) return false;
      if (res.status >= 200 && res.status < 300) return true;
      throw apiError(cfg, 'DELETE', path, res.status, res.text);
    },
    async raw(path) {
      const res = await send('GET', path, undefined, '*/*');
      return { status: res.status, body: res.text };
    },
  };
}

/**
 * An HTTP error with the Status the API server sent: "GET /api/v1/nodes: 403 Forbidden: nodes is forbidden: ...".
 * The reason is said once (a 401's Status says "Unauthorized" twice), and 401 gets the fix: new credentials.
 */
function apiError(cfg: LoadedConfig, method: string, path: string, status: number, text: string): ApiError {
  let message = text.trim().split('\n')[0] ?? '';
  let reason: string | undefined;
  try {
    const s = JSON.parse(text) as { message?: string; reason?: string };
    message = s.message ?? message;
    reason = s.reason;
  } catch {
    // not a Status body; keep the first line of text
  }
  const head = [String(status), reason].filter(Boolean).join(' ');
  const said = `${head}${message && message !== reason ? `: ${message}` : ''}`.replace(/\s+/g, ' ');
  const fix = status === 401 ? `; the API server did not accept the credentials of ${cfg.where}: renew them (a new token or certificate) or use another --user, --token or --context` : '';
  return new ApiError(status, `${method} ${path}: ${said}${fix}`.trim(), reason);
}

/** Codes of connection failures, in words; TLS verification failures name the kubeconfig fields that fix them. */
const CONNECT_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens there',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name cannot be resolved now',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable',
  ECONNRESET: 'the connection was reset',
  DEPTH_ZERO_SELF_SIGNED_CERT: "its certificate is self-signed and not trusted; set the cluster's certificate-authority (or --certificate-authority)",
  SELF_SIGNED_CERT_IN_CHAIN: "its certificate is not signed by the certificate authority of the kubeconfig; check certificate-authority(-data) or --certificate-authority",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its certificate is not signed by the certificate authority of the kubeconfig; check certificate-authority(-data) or --certificate-authority",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its certificate is not signed by the certificate authority of the kubeconfig; check certificate-authority(-data) or --certificate-authority",
  CERT_HAS_EXPIRED: 'its certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: "its certificate is not valid for this host name; connect by a name the certificate has, or set --tls-server-name",
  EPROTO: 'the TLS handshake failed (is it an https port?)',
};

function unreachable(cfg: LoadedConfig, what: string, err: Error, timeoutMs = 0): ClusterError {
  const code = (err as { code?: string }).code ?? '';
  const why = code === 'ETIMEDOUT'
    ? `no answer to ${what} within ${seconds(timeoutMs)} (--request-timeout)`
    : (CONNECT_FAILURES[code] ?? describeSystemError(err));
  return new ClusterError(`cannot reach the API server ${cfg.server} of ${cfg.where}: ${why}; check it with "kubectl ${cfg.kubectlArgs} cluster-info"`, { cause: err });
}

const seconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

export function apiProbe(cfg: LoadedConfig, requestTimeoutMs: number): ApiProbe {
  return {
    async startTimes(address, port, samples) {
      const out: number[] = [];
      for (let i = 0; i < samples; i++) {
        const opts: RequestOptions = { method: 'GET', headers: { Accept: 'text/plain' } };
        await cfg.applyTo(opts);
        // A fresh connection each time (agent: false), so the kernel picks a listener anew; the certificate is
        // checked against the kubeconfig's server name (a DNS name; an IP is checked as is), which kubeadm's certificate carries.
        const serverName = new URL(cfg.server).hostname.replace(/^\[|\]$/g, '');
        Object.assign(opts, { agent: false }, isIP(serverName) || opts.servername ? {} : { servername: serverName });
        const text = await new Promise<string>((resolve, reject) => {
          const req = httpsRequest(new URL(`https://${address.includes(':') ? `[${address}]` : address}:${port}/metrics`), opts, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`/metrics: HTTP ${res.statusCode}`))));
            res.on('error', reject);
          });
          req.setTimeout(requestTimeoutMs > 0 ? requestTimeoutMs : 5000, () => req.destroy(new Error('/metrics: no answer')));
          req.on('error', reject);
          req.end();
        }).catch(() => '');
        const m = /^process_start_time_seconds ([0-9.e+]+)$/m.exec(text);
        if (m) out.push(Number(m[1]));
      }
      return out;
    },
  };
}
