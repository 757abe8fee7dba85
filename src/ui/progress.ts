// The one renderer of progress events: ora spinners and colour on a terminal, plain lines otherwise (a line per
// step, per wait start and end, and a "still waiting" line every 15 s with what was seen last).
import type { ChalkInstance } from 'chalk';
import type { Ora } from 'ora';
import type { Emit, ProgressEvent } from '../core/events.ts';
import type { Io } from '../io.ts';
import { escapeTerminal as esc } from './escape.ts';

const secs = (ms: number) => `${Math.round(ms / 1000)}s`;

export interface Renderer {
  emit: Emit;
  stop(): void;
}

export async function progressRenderer(io: Io, c: ChalkInstance): Promise<Renderer> {
  const ora = io.isTTY ? (await import('ora')).default : null;
  let spinner: Ora | null = null;
  const lastPlain = new Map<string, { at: number; seen: string }>();
  const line = (t: string) => {
    if (spinner) spinner.clear();
    io.out(t + '\n');
    if (spinner) spinner.render();
  };
  const emit = (raw: ProgressEvent) => {
    const e = escaped(raw);
    const tag = c.cyan(e.tag);
    switch (e.type) {
      case 'info': return line(`${tag} ${e.message}`);
      case 'warn': return line(`${tag} ${c.yellow('warning:')} ${e.message}`);
      case 'step-start': return line(`${tag} ${c.bold(`(${e.index}/${e.total})`)} ${e.description}`);
      case 'step-done': return line(`${tag} ${c.green('done')}${e.skipped ? c.dim(` (${e.skipped})`) : ''}`);
      case 'step-failed': return line(`${tag} ${c.red('failed:')} ${e.error}`);
      case 'wait-start':
        if (ora) {
          spinner = ora({ text: `${tag} waiting for ${e.what} (0s of ${secs(e.limitMs)})`, stream: process.stdout }).start();
        } else {
          lastPlain.set(e.what, { at: 0, seen: '' });
          line(`${e.tag} waiting for ${e.what} (limit ${secs(e.limitMs)})`);
        }
        return;
      case 'wait-tick':
        if (spinner) {
          spinner.text = `${tag} waiting for ${e.what} (${secs(e.elapsedMs)} of ${secs(e.limitMs)}) ${c.dim(e.seen)}`;
        } else {
          // A line when what is seen changes (at most every 15 s), and every minute regardless.
          const last = lastPlain.get(e.what) ?? { at: 0, seen: '' };
          const gap = e.elapsedMs - last.at;
          if (!((gap >= 15_000 && e.seen !== last.seen) || gap >= 60_000)) return;
          lastPlain.set(e.what, { at: e.elapsedMs, seen: e.seen });
          line(`${e.tag} still waiting for ${e.what} (${secs(e.elapsedMs)} of ${secs(e.limitMs)}): ${e.seen}`);
        }
        return;
      case 'wait-end': {
        const text = `${tag} ${e.ok ? 'ready' : 'gave up'}: ${e.what} after ${secs(e.elapsedMs)}${e.ok ? '' : `; last seen: ${e.seen}`}`;
        if (spinner) {
          if (e.ok) spinner.succeed(text);
          else spinner.fail(text);
          spinner = null;
        } else {
          line(text.replace(/\x1b\[[0-9;]*m/g, '')); // the colour of `tag`
        }
        return;
      }
    }
  };
  return { emit, stop: () => { spinner?.stop(); spinner = null; } };
}

/** Events carry what the cluster said (pod states, event messages, errors): every text field escaped. */
function escaped(e: ProgressEvent): ProgressEvent {
  const out: Record<string, unknown> = { ...e };
  for (const [k, v] of Object.entries(out)) if (typeof v === 'string' && k !== 'type') out[k] = esc(v);
  return out as unknown as ProgressEvent;
}
