// In-cluster clients reach the API through the `kubernetes` Service, whose endpoints each apiserver keeps: one
// entry per advertised address, kept by a lease per address (kube-apiserver pkg/controlplane/reconcilers/lease.go).
// Two apiservers on one node share that address and that lease, so during a hand-over:
//  - the stopping one deletes the lease and takes the address out of default/kubernetes, even when it is the last
//    address (its PreShutdownHook, pkg/controlplane/controller/kubernetesservice Stop);
//  - the starting one does the same at its start, "until the server is ready" (Start), refused only where no
//    other address is left;
// and the one that stays puts the address back at its next reconcile, up to 10 s later. Measured on the bed:
// in-cluster clients lost the API for 3 to 9.4 s at every hand-over ("network is unreachable", then timeouts
// while kube-proxy had no endpoint), clients of the node's address none.
//
// The guard: for the hand-over only, a ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes
// 1.30+) that refuses any update of default/kubernetes's Endpoints that leaves out an address being handed over.
// The apiservers' own removals then fail (they log it and go on); the address stays, the process behind it changes.
// A dry-run create of one ConfigMap name the policy also refuses tells that the policy is in force in the apiserver
// that answers. Its refusals are 422 Invalid, not 403: the tool's own requests take a 403 for a starting apiserver's
// RBAC and send it again for 16 s. Where the API has no such policies the hand-over goes as without it, and the plan says so.
import { unfinished } from './journal.ts';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from './labels.ts';
import type { Snapshot } from './snapshot.ts';

export const GUARD_NAME = 'kubectl-selfhost-keep-apiserver-endpoints';
/** A ConfigMap name the guard refuses to create: a dry-run create of it shows the guard is in force. */
export const GUARD_CHECK = 'kubectl-selfhost-guard-check';
export const GUARD_MARK = 'kubectl-selfhost keeps';
export const VAP_GROUP_VERSION = 'admissionregistration.k8s.io/v1';
export const guardPaths = {
  policies: () => `/apis/${VAP_GROUP_VERSION}/validatingadmissionpolicies`,
  policy: (name: string) => `/apis/${VAP_GROUP_VERSION}/validatingadmissionpolicies/${name}`,
  bindings: () => `/apis/${VAP_GROUP_VERSION}/validatingadmissionpolicybindings`,
  binding: (name: string) => `/apis/${VAP_GROUP_VERSION}/validatingadmissionpolicybindings/${name}`,
};
/** One endpoint reconcile interval of kube-apiserver (DefaultEndpointReconcilerInterval) and a margin. */
export const GUARD_HOLD_MS = 12_000;

/** A run that stopped may have left the guard in force: its journal is unfinished, or the guard was seen in place. */
export const guardMayBeLeft = (s: Pick<Snapshot, 'journal' | 'endpointGuard'>): boolean => unfinished(s.journal) || s.endpointGuard === true;

const cel = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The policy and its binding for these addresses (IPs that pass net.isIP). */
export function guardObjects(addresses: readonly string[]): { policy: GuardObject; binding: GuardObject } {
  const labels = { [MANAGED_BY_KEY]: MANAGED_BY_VALUE };
  const list = `[${[...addresses].sort().map(cel).join(', ')}]`;
  const isEndpoints = "request.resource.resource == 'endpoints'";
  const policy: GuardObject = {
    apiVersion: VAP_GROUP_VERSION,
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: GUARD_NAME, labels },
    spec: {
      // An error in an expression lets the request through: the guard never blocks what it does not mean to.
      failurePolicy: 'Ignore',
      matchConstraints: {
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['default', NAMESPACE] }] },
        resourceRules: [
          { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['endpoints'], resourceNames: ['kubernetes'] },
          { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] },
        ],
      },
      matchConditions: [{
        name: 'kubernetes-endpoints-or-the-check',
        expression: `(${isEndpoints} && request.namespace == 'default' && request.name == 'kubernetes') || (request.resource.resource == 'configmaps' && request.namespace == ${cel(NAMESPACE)} && has(object.metadata.name) && object.metadata.name == ${cel(GUARD_CHECK)})`,
      }],
      validations: [
        { expression: `!(${isEndpoints}) || ${list}.all(ip, has(object.subsets) && object.subsets.exists(s, has(s.addresses) && s.addresses.exists(a, a.ip == ip)))`, message: `${GUARD_MARK} the apiserver addresses ${addresses.join(', ')} in default/kubernetes while their apiservers are handed over`, reason: 'Invalid' },
        { expression: `${isEndpoints}`, message: `${GUARD_MARK} default/kubernetes: the guard is in force`, reason: 'Invalid' },
      ],
    },
  };
  const binding: GuardObject = {
    apiVersion: VAP_GROUP_VERSION,
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: GUARD_NAME, labels },
    spec: { policyName: GUARD_NAME, validationActions: ['Deny'] },
  };
  return { policy, binding };
}

export interface GuardObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
}
