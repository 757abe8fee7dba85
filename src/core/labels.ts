// Names and keys this tool writes into the cluster, in one place so status/rollback find exactly what pivot made.
export const NAMESPACE = 'kube-system';
export const API_GROUP = 'kubectl-selfhost.dev';
export const MANAGED_BY_KEY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'kubectl-selfhost';
export const CONTROL_PLANE_ROLE = 'node-role.kubernetes.io/control-plane';
export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
export const SOURCE_HASH_ANNOTATION = `${API_GROUP}/source-sha256`;
export const PORT_SHARING_FLAG = '--permit-port-sharing';
