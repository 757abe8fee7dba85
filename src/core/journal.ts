// The durable record of a pivot or rollback run, kept in the cluster (ConfigMap kube-system/kubectl-selfhost-journal).
// It is rewritten after every step, so a run killed at any point leaves the truth: which steps are done.
import type { Component } from './components.ts';
import { API_GROUP } from './labels.ts';

export const JOURNAL_API_VERSION = `${API_GROUP}/v1alpha1`;

export type Operation = 'pivot' | 'rollback';

export interface Journal {
  apiVersion: typeof JOURNAL_API_VERSION;
  kind: 'Journal';
  operation: Operation;
  runId: string;
  startedAt: string;
  updatedAt: string;
  state: 'in-progress' | 'completed' | 'failed';
  components: Component[];
  /** Step ids completed, in order. */
  done: string[];
  lastError?: string;
}

export function newJournal(operation: Operation, runId: string, components: Component[], now: Date): Journal {
  const at = now.toISOString();
  return { apiVersion: JOURNAL_API_VERSION, kind: 'Journal', operation, runId, startedAt: at, updatedAt: at, state: 'in-progress', components, done: [] };
}

/** A run that was started and did not complete: killed, failed, or still under way. */
export function unfinished(j: Journal | null): j is Journal {
  return j !== null && j.state !== 'completed';
}

export function markDone(j: Journal, stepId: string, now: Date): Journal {
  return j.done.includes(stepId) ? { ...j, updatedAt: now.toISOString() } : { ...j, done: [...j.done, stepId], updatedAt: now.toISOString() };
}

export function finish(j: Journal, state: 'completed' | 'failed', now: Date, error?: string): Journal {
  const out: Journal = { ...j, state, updatedAt: now.toISOString() };
  if (error !== undefined) out.lastError = error;
  else delete out.lastError;
  return out;
}

/** Validates a journal read back from the cluster; anything else is reported, never trusted. */
export function parseJournal(text: string): Journal {
  const j = JSON.parse(text) as Partial<Journal>;
  if (j.apiVersion !== JOURNAL_API_VERSION || j.kind !== 'Journal' || !Array.isArray(j.done)) {
    throw new Error(`unrecognised journal (apiVersion ${String(j.apiVersion)}); delete ConfigMap kube-system/kubectl-selfhost-journal if it is not this tool's`);
  }
  return j as Journal;
}
