// Names and keys this tool writes into the cluster, in one place so status/rollback find exactly what pivot made.
export const NAMESPACE = 'kube-system';
export const API_GROUP = 'kubectl-selfhost.dev';
export const MANAGED_BY_KEY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'kubectl-selfhost';
export const CONTROL_PLANE_ROLE = 'node-role.kubernetes.io/control-plane';
export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
export const SOURCE_HASH_ANNOTATION = `${API_GROUP}/source-sha256`;
export const PORT_SHARING_FLAG = '--permit-port-sharing';

/**
 * The per-node gate: a DaemonSet of this tool selects a control-plane node only when the node also carries its
 * component's gate label, which pivot sets once that node's static pod shares its port (so a node that joins later,
 * or merely gets the control-plane role, gets no DaemonSet pod beside kubeadm's static pods) and rollback removes
 * once the node's static pod serves again. One label per component, not one per node: `pivot --components` and
 * `rollback --components` hand over one component at a time, and a single label would let every DaemonSet onto a
 * node whose other static pods do not share their port yet. The key is fixed, so labelling a node never changes
 * a DaemonSet's template (no rolling update of the other nodes).
 */
export const GATE_VALUE = 'true';
export const gateLabel = (component: string): string => `${API_GROUP}/self-hosted-${component}`;
