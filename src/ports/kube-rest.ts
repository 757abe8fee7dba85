// The real KubeApi: client-node loads the kubeconfig and applies its credentials and TLS settings (client
// certificates, tokens, exec plugins); requests are plain JSON over node:https so that objects are sent and
// received exactly as the API server has them (client-node's typed models drop fields they do not know).
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import { isIP } from 'node:net';
import { ClusterError } from '../core/errors.ts';
import { ApiError, type ApiProbe, type KubeApi, type ListOptions, type Obj, type WriteOptions } from './kube.ts';
import type { LoadedConfig } from './kubeconfig.ts';

export function restClient(cfg: LoadedConfig, requestTimeoutMs: number): KubeApi {
  const base = new URL(cfg.server);

  async function send(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<{ status: number; text: string }> {
    const url = new URL(path, base);
    const opts: RequestOptions = { method, headers: { Accept: accept } };
    await cfg.kc.applyToHTTPSOptions(opts);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) (opts.headers as Record<string, string>)['Content-Type'] = 'application/json';
    const doRequest = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return await new Promise((resolve, reject) => {
      const req = doRequest(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      if (requestTimeoutMs > 0) {
        req.setTimeout(requestTimeoutMs, () => req.destroy(Object.assign(new Error(`no answer within --request-timeout (${requestTimeoutMs} ms)`), { code: 'ETIMEDOUT' })));
      }
      req.on('error', (err) => reject(unreachable(cfg, err)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  async function json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await send(method, path, body);
    if (res.status >= 200 && res.status < 300) return JSON.parse(res.text) as T;
    throw apiError(method, path, res.status, res.text);
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
      if (res.status >= 200 && res.status < 300) return JSON.parse(res.text) as T;
      throw apiError('GET', path, res.status, res.text);
    },
    async list<T>(path: string, opts: ListOptions = {}) {
      const out = await json<{ items: T[] }>('GET', q(path, { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector }));
      return out.items ?? [];
    },
    create: <T extends Obj>(path: string, body: T, o?: WriteOptions) => json<T>('POST', q(path, { dryRun: dry(o) }), body),
    replace: <T extends Obj>(path: string, body: T, o?: WriteOptions) => json<T>('PUT', q(path, { dryRun: dry(o) }), body),
    async delete(path, o = {}) {
      const body = { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: o.gracePeriodSeconds, propagationPolicy: o.propagationPolicy, dryRun: o.dryRun ? ['All'] : undefined };
      const res = await send('DELETE', path, body);
      if (res.status === 404) return false;
      if (res.status >= 200 && res.status < 300) return true;
      throw apiError('DELETE', path, res.status, res.text);
    },
    async raw(path) {
      const res = await send('GET', path, undefined, '*/*');
      return { status: res.status, body: res.text };
    },
  };
}

function apiError(method: string, path: string, status: number, text: string): ApiError {
  let message = text.trim().split('\n')[0] ?? '';
  let reason: string | undefined;
  try {
    const s = JSON.parse(text) as { message?: string; reason?: string };
    message = s.message ?? message;
    reason = s.reason;
  } catch {
    // not a Status body; keep the first line of text
  }
  return new ApiError(status, `${method} ${path}: ${status} ${reason ?? ''} ${message}`.replace(/\s+/g, ' ').trim(), reason);
}

function unreachable(cfg: LoadedConfig, err: Error): ClusterError {
  return new ClusterError(
    `cannot reach the API server ${cfg.server} of context "${cfg.context}" (${err.message}); check it with "kubectl --context ${cfg.context} cluster-info"`,
    { cause: err },
  );
}

export function apiProbe(cfg: LoadedConfig, requestTimeoutMs: number): ApiProbe {
  return {
    async startTimes(address, port, samples) {
      const out: number[] = [];
      for (let i = 0; i < samples; i++) {
        const opts: RequestOptions = { method: 'GET', headers: { Accept: 'text/plain' } };
        await cfg.kc.applyToHTTPSOptions(opts);
        // A fresh connection each time (agent: false), so the kernel picks a listener anew; the certificate is
        // checked against the kubeconfig's server name (a DNS name; an IP is checked as is), which kubeadm's certificate carries.
        const serverName = new URL(cfg.server).hostname.replace(/^\[|\]$/g, '');
        Object.assign(opts, { agent: false }, isIP(serverName) ? {} : { servername: serverName });
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
