// Validates objects against the vendored Kubernetes OpenAPI schemas (test/fixtures/openapi/<version>/, made by
// scripts/corpus/openapi-schemas.mjs from k8s.io/kubernetes' own api/openapi-spec) with ajv, offline.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import { FIXTURES } from './helpers.ts';

const DIR = join(FIXTURES, 'openapi');

/** The Kubernetes versions whose DaemonSet schema is vendored (oldest and newest supported). */
export const SCHEMA_VERSIONS = readdirSync(DIR).filter((d) => d.startsWith('v')).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));

const cache = new Map<string, ValidateFunction>();

function validator(version: string): ValidateFunction {
  let v = cache.get(version);
  if (v === undefined) {
    // Formats (int32, int-or-string...) are Kubernetes' own names, not JSON Schema's: types and fields are checked.
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    v = ajv.compile(JSON.parse(readFileSync(join(DIR, version, 'daemonset.schema.json'), 'utf8')));
    cache.set(version, v);
  }
  return v;
}

/** The schema errors of a DaemonSet for one Kubernetes version, one line each (empty: valid). */
export function daemonSetErrors(version: string, ds: unknown): string[] {
  const validate = validator(version);
  if (validate(ds)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params['additionalProperty'])})` : ''}`);
}
