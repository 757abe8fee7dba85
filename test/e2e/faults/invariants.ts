// The fault suite's invariants, checked after every fault and after every convergence, and its results table.
//  - serving: every component had a listener on the node for all but `budget` ms of the case, and the API prober's
//    longest gap stayed within the budget the case states;
//  - originals: while a component runs from a DaemonSet or its static manifest is gone, the node copy and the
//    cluster copy of its original both exist and are identical to the manifest the case started from;
//  - converged: status exits 0 in the expected mode, and nothing of a run is left: no agent pod, no node helper
//    ConfigMap, no dotfile or `.tmp` in the node's directories, no Lease, no unfinished journal.
import assert from 'node:assert/strict';
import { agentPods, endpointGuards, helperConfigMaps, modes, ourDaemonSets, selfhost, status, tryKubectl, until } from '../helpers.ts';
import { type ProbeReport } from '../prober.ts';
import { clusterCopy, CONTROL_PLANE, halfWritten, lease, nodeCopy, staticFile, type Component } from './node.ts';

export type Originals = Record<Component, string>;

/** The control plane's static manifests as a case starts from them (a converged static control plane). */
export function readOriginals(): Originals {
  const o = {} as Originals;
  for (const c of CONTROL_PLANE) {
    const text = staticFile(c);
    assert.ok(text, `${c}.yaml is in the static pod directory before the case`);
    o[c] = text;
  }
  return o;
}

/** No original is ever lost: each handed-over component has both copies, each the manifest it started from. */
export function assertOriginalsKept(originals: Originals, where: string): void {
  const daemonSets = ourDaemonSets().map((n) => n.replace(/^daemonset\.apps\//, ''));
  for (const c of CONTROL_PLANE) {
    const live = staticFile(c);
    const handedOver = daemonSets.includes(c) || live === null;
    const node = nodeCopy(c);
    const cluster = clusterCopy(c);
    if (handedOver) {
      assert.equal(node, originals[c], `${where}: the node copy of ${c}'s original exists and is the manifest the hand-over removed`);
      assert.equal(cluster, originals[c], `${where}: the cluster copy of ${c}'s original exists and is the manifest the hand-over removed`);
    } else {
      // Runs static from its file, nothing of ours runs it: a copy may be gone (cleanup), never a different one.
      if (node !== null) assert.equal(node, originals[c], `${where}: the node copy of ${c} is its original`);
      if (cluster !== null) assert.equal(cluster, originals[c], `${where}: the cluster copy of ${c} is its original`);
    }
  }
}

export type Mode = 'static' | 'self-hosted';

/** status exit 0 with every control-plane component in `mode`, and no trace of a run left behind. */
export async function assertConverged(mode: Mode, where: string): Promise<void> {
  const s = await until(`status to be healthy ${where}`, 300_000, () => {
    const r = status();
    return r.code === 0 ? r : null;
  });
  const m = modes(s.doc);
  for (const c of CONTROL_PLANE) assert.equal(m[c], mode, `${where}: ${c} is ${mode} (${JSON.stringify(m)})`);
  assert.deepEqual(agentPods(), [], `${where}: no node agent pod left`);
  assert.deepEqual(helperConfigMaps(), [], `${where}: no node helper ConfigMap left`);
  assert.deepEqual(endpointGuards(), [], `${where}: no endpoint guard left`);
  assert.deepEqual(halfWritten(), [], `${where}: nothing half-written in the node's directories`);
  assert.equal(lease(), null, `${where}: no Lease left`);
  assert.ok(s.doc.journal === null || s.doc.journal.state === 'completed', `${where}: no unfinished journal (${JSON.stringify(s.doc.journal)})`);
  if (mode === 'static') assert.deepEqual(ourDaemonSets(), [], `${where}: no DaemonSet of ours left`);
  assert.equal(tryKubectl(['get', '--raw', '/readyz']), 'ok');
}

export interface Row {
  fault: string;
  verb: string;
  point: string;
  outcome: string;
  apiGapS: number | null;
  listenerGapS: number | null;
  left: string;
}

/** Longest stretch without a listener among the components the case did not expect to restart. */
export function worstListenerGap(gaps: Record<Component, number>): number {
  return Math.max(...Object.values(gaps)) / 1000;
}

const rows: Row[] = [];

export function record(row: Row): void {
  rows.push(row);
  console.log(`# FAULT ${row.fault} | ${row.verb} | ${row.point} | ${row.outcome} | ${row.apiGapS === null ? '-' : `${row.apiGapS.toFixed(2)}s`} | ${row.listenerGapS === null ? '-' : `${row.listenerGapS.toFixed(2)}s`} | ${row.left}`);
}

export function apiGap(p: ProbeReport | null): number | null {
  return p ? p.longestGapMs / 1000 : null;
}

/** What a converged case left that it should not have (the row's last column); '' means nothing. */
export function leftovers(): string {
  const left = [...agentPods(), ...helperConfigMaps(), ...endpointGuards(), ...halfWritten(), ...(lease() ? ['Lease kubectl-selfhost'] : [])];
  return left.length ? left.join(', ') : 'nothing';
}

/** The table, once per file, as Markdown (the note quotes it). */
export function printTable(title: string): void {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  console.log(`# ${title}`);
  console.log(`# ${line(['fault', 'verb', 'point', 'outcome', 'longest API gap', 'longest listener gap', 'left'])}`);
  console.log(`# ${line(['---', '---', '---', '---', '---:', '---:', '---'])}`);
  for (const r of rows) console.log(`# ${line([r.fault, r.verb, r.point, r.outcome, r.apiGapS === null ? '-' : `${r.apiGapS.toFixed(2)} s`, r.listenerGapS === null ? '-' : `${r.listenerGapS.toFixed(2)} s`, r.left])}`);
}

/**
 * Each suite's start: whatever an earlier suite or a stopped run left (a killed run, a case that failed mid-way),
 * rollback brings the bed back to a healthy static control plane; then wait for it.
 */
export async function healthyBed(): Promise<void> {
  if (status().code !== 0) selfhost(['rollback', '--yes']);
  await until('the bed to be healthy', 600_000, () => status().code === 0);
}
