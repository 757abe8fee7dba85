#!/usr/bin/env bash
# The test bed with several control-plane nodes (kubeadm HA, stacked etcd) behind haproxy, on one Linux host.
# Run through `testbed.sh up --control-planes N` (N >= 2) and the other testbed.sh verbs; design and reasons in
# docs/ha-bed-design.md.
#
#  host: selfhost-bed0 10.213.0.1/24 ─ netns selfhost-fabric (bridge br0) ─┬─ netns selfhost-lb: eth0 10.213.0.10, haproxy :6443
#                                                                          └─ node selfhost-cpI: eth0 10.213.0.(10+I)
# Each node is a network, UTS and MOUNT namespace: its own /etc/kubernetes, /var/lib/kubelet, /var/lib/etcd,
# /var/log/pods, /var/log/containers, containerd root (/var/lib/containerd) and state (/run/containerd, a tmpfs),
# CNI config and state, bound from $STATE/nodes/NODE/disk; its pods live in the cgroups /NODE/kubepods.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=testbed.sh
BED_SOURCED=1 . "$here/testbed.sh"

FABRIC=selfhost-fabric
LB_NS=selfhost-lb
LB_IP=10.213.0.10
HA_HOST_IP=10.213.0.1
HA_NET=10.213.0.0/24
MODE_FILE=$STATE/mode
NODE_BINDS=(/etc/kubernetes /var/lib/kubelet /var/lib/etcd /var/log/pods /var/log/containers /var/lib/containerd
  /etc/cni/net.d /var/lib/cni)
ETCD_ARGS=(heartbeat-interval=250 election-timeout=2500) # three etcds fsync on one disk and share two cores

node_ip() { echo "10.213.0.$((10 + ${1#selfhost-cp}))"; }
ndisk() { echo "$STATE/nodes/$1/disk"; }
nstate() { echo "$STATE/nodes/$1"; }
nrun() { echo "$RUN/nodes/$1"; }
nodes() { [ -f "$STATE/nodes.list" ] && cat "$STATE/nodes.list"; }
valid_node() { nodes | grep -qxF "$1" || die "no node '$1' in this bed (nodes: $(nodes | tr '\n' ' '))"; }

ha_in_node() {
  local n=$1
  shift
  nsenter --mount="$RUN/ns/$n.mnt" --net="/run/netns/$n" --uts="$RUN/ns/$n.uts" --wd=/ -- "$@"
}
ha_ctr() { local n=$1; shift; ha_in_node "$n" ctr --address /run/containerd/containerd.sock --namespace k8s.io "$@"; }

# ---------------------------------------------------------------------------------------------------------------
# Network: the fabric (a bridge in its own namespace), the load balancer's namespace, each node's namespaces
fabric_port() { # fabric_port NETNS PORT IP: a veth from the bridge to eth0 in NETNS, with IP/24
  local ns=$1 port=$2 ip=$3 i
  # A deleted network namespace is cleaned up by the kernel asynchronously: the old port of a node stopped a moment
  # ago may still be on the bridge. Wait for it, then delete it (which deletes its peer too).
  for ((i = 0; i < 100; i++)); do ip -n "$FABRIC" link show "$port" >/dev/null 2>&1 || break; sleep 0.1; done
  if ip -n "$FABRIC" link show "$port" >/dev/null 2>&1; then
    warn "the fabric still has $port 10s after its node stopped; deleting it"
    ip -n "$FABRIC" link delete "$port"
  fi
  ip -n "$FABRIC" link add "$port" type veth peer name eth0 netns "$ns"
  ip netns exec "$FABRIC" sysctl -q -w "net.ipv6.conf.$port.disable_ipv6=1" || true
  ip -n "$FABRIC" link set "$port" master br0 up
  nsenter --net="/run/netns/$ns" sh -euc "
    ip link set lo up
    sysctl -q -w net.ipv6.conf.eth0.disable_ipv6=1 || true
    ip addr add $ip/24 dev eth0
    ip link set eth0 up"
}

fabric_up() {
  ip netns add "$FABRIC"
  ip -n "$FABRIC" link set lo up
  ip -n "$FABRIC" link add br0 type bridge
  ip -n "$FABRIC" link set br0 up
  ip link add "$HOST_IF" type veth peer name host netns "$FABRIC"
  sysctl -q -w "net.ipv6.conf.$HOST_IF.disable_ipv6=1" || true
  ip -n "$FABRIC" link set host master br0 up
  ip addr add "$HA_HOST_IP/24" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  ip netns add "$LB_NS"
  fabric_port "$LB_NS" lb "$LB_IP"
}

# The node's network (guarded like the single node's: it answers the host and talks to the other nodes, the load
# balancer and pods, and never opens a connection to anything else), hostname, mount namespace and cgroups.
node_up_namespaces() {
  local n=$1 ip m
  ip=$(node_ip "$n")
  ip netns add "$n"
  fabric_port "$n" "${n#selfhost-}" "$ip"
  nsenter --net="/run/netns/$n" sh -euc "
    sysctl -q -w net.ipv4.ip_forward=1
    iptables -N SELFHOST-BED-GUARD
    iptables -A SELFHOST-BED-GUARD -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
    iptables -A SELFHOST-BED-GUARD -d $HA_HOST_IP -j REJECT
    iptables -A SELFHOST-BED-GUARD -d $HA_NET -j RETURN
    iptables -A SELFHOST-BED-GUARD -d $POD_SUBNET -j RETURN
    iptables -A SELFHOST-BED-GUARD -j REJECT
    iptables -I OUTPUT -o eth0 -j SELFHOST-BED-GUARD
    iptables -I FORWARD -o eth0 -j SELFHOST-BED-GUARD"
  mkdir -p "$RUN/ns" "$(nrun "$n")"
  # unshare(1) binds a namespace only onto a file whose mount is not shared.
  mountpoint -q "$RUN/ns" || mount --bind "$RUN/ns" "$RUN/ns"
  mount --make-private "$RUN/ns"
  touch "$RUN/ns/$n.uts" "$RUN/ns/$n.mnt"
  unshare --uts="$RUN/ns/$n.uts" hostname "$n"
  for m in "${NODE_BINDS[@]}"; do mkdir -p "$(ndisk "$n")$m"; done
  unshare --mount="$RUN/ns/$n.mnt" --propagation private bash "$here/ha.sh" __node-mounts "$n"
  for m in $(cgroup_mounts); do
    mkdir -p "$m/$n"
    # cgroup v1 leaves a new cpuset empty: no task could run in it.
    if [ -f "$m/cpuset.cpus" ] && [ -z "$(cat "$m/$n/cpuset.cpus")" ]; then
      cat "$m/cpuset.cpus" >"$m/$n/cpuset.cpus"
      cat "$m/cpuset.mems" >"$m/$n/cpuset.mems"
    fi
  done
  return 0
}

# Runs inside the node's new mount namespace (a private copy of the host's).
node_mounts() {
  local n=$1 disk mp
  disk=$(ndisk "$n")
  # Copies of namespace files pin those namespaces: a rebooted node's old network namespace (its veth, its
  # address on the bridge) would live on in every node made after it.
  for mp in $(mounts_under /run/netns "$RUN/ns"); do umount -l "$mp" 2>/dev/null || true; done
  mount --make-rshared /
  for mp in "${NODE_BINDS[@]}"; do
    mount --bind "$disk$mp" "$mp"
    mount --make-private "$mp"
    mount --make-shared "$mp"
  done
  mkdir -p /run/containerd
  mount -t tmpfs -o mode=0711 selfhost-run /run/containerd # dies with the namespace: a reboot's empty /run
}

node_down_namespaces() {
  local n=$1 m
  if mountpoint -q "$RUN/ns/$n.mnt" 2>/dev/null; then umount "$RUN/ns/$n.mnt" || umount -l "$RUN/ns/$n.mnt"; fi
  if mountpoint -q "$RUN/ns/$n.uts" 2>/dev/null; then umount "$RUN/ns/$n.uts" || umount -l "$RUN/ns/$n.uts"; fi
  rm -f "$RUN/ns/$n.mnt" "$RUN/ns/$n.uts"
  if [ -e "/run/netns/$n" ]; then ip netns delete "$n" 2>/dev/null || warn "ip netns delete $n failed"; fi
  for m in $(cgroup_mounts); do
    if [ -d "$m/$n/kubepods" ]; then find "$m/$n/kubepods" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
}

# Routes to each node's pod CIDR (from the API, or the last list read when the API is away): on every other node
# and on the host (answers to host-initiated connections to pods).
sync_routes() {
  local n cidr ip m
  kubectl_ get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' \
    >"$STATE/pod-cidrs.new" 2>/dev/null && mv "$STATE/pod-cidrs.new" "$STATE/pod-cidrs" || rm -f "$STATE/pod-cidrs.new"
  [ -f "$STATE/pod-cidrs" ] || return 0
  while read -r n cidr ip; do
    [ -n "$cidr" ] && [ -n "$ip" ] || continue
    for m in $(nodes); do
      [ "$m" = "$n" ] || [ ! -e "/run/netns/$m" ] || ip -n "$m" route replace "$cidr" via "$ip" dev eth0
    done
    ip route replace "$cidr" via "$ip" dev "$HOST_IF"
  done <"$STATE/pod-cidrs"
}

# ---------------------------------------------------------------------------------------------------------------
# Per-node config files
write_node_configs() {
  local n=$1 role=$2 ip st pause_image
  ip=$(node_ip "$n")
  st=$(nstate "$n")
  pause_image=$(grep '/pause:' "$IMAGES_DIR/images.txt" | cut -d' ' -f1)
  mkdir -p "$st/patches" "$st/logs"
  cat >"$st/containerd.toml" <<EOF
# containerd config of test-bed node $n (written by scripts/testbed/ha.sh); paths are inside the node's mounts
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$pause_image"
    netns_mounts_under_state_dir = true
    restrict_oom_score_adj = $(no_sys_resource)
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
      max_conf_num = 1
      conf_template = "$STATE/cni-template.json"
EOF
  # The node's pods in cgroups of its own: a kubelet destroys the pod cgroups under its root that it does not know.
  printf 'cgroupRoot: /%s\n' "$n" >"$st/patches/kubeletconfiguration+merge.yaml"
  local reg
  reg=$(
    cat <<EOF
nodeRegistration:
  name: $n
  criSocket: unix:///run/containerd/containerd.sock
  imagePullPolicy: Never
  kubeletExtraArgs:
  - name: node-ip
    value: $ip
patches:
  directory: $st/patches
EOF
  )
  if [ "$role" = init ]; then
    local a
    {
      cat <<EOF
# kubeadm config of test-bed node $n (written by scripts/testbed/ha.sh)
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: "$TOKEN"
  ttl: 24h0m0s
certificateKey: "$CERT_KEY"
localAPIEndpoint:
  advertiseAddress: $ip
  bindPort: 6443
$reg
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: $K8S_VERSION
clusterName: selfhost-bed
controlPlaneEndpoint: "$LB_IP:6443"
networking:
  podSubnet: $POD_SUBNET
  serviceSubnet: $SERVICE_SUBNET
etcd:
  local:
    extraArgs:
EOF
      for a in "${ETCD_ARGS[@]}"; do printf '    - name: %s\n      value: "%s"\n' "${a%%=*}" "${a#*=}"; done
      cat <<EOF
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false   # this host has cgroup v1 controllers
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
conntrack:
  maxPerCore: 0
iptables:
  minSyncPeriod: 1s
EOF
    } >"$st/kubeadm.yaml"
  else
    cat >"$st/kubeadm.yaml" <<EOF
# kubeadm config of test-bed node $n (written by scripts/testbed/ha.sh)
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "$LB_IP:6443"
    token: "$TOKEN"
    caCertHashes: ["sha256:$CA_HASH"]
controlPlane:
  localAPIEndpoint:
    advertiseAddress: $ip
    bindPort: 6443
  certificateKey: "$CERT_KEY"
$reg
EOF
  fi
}

write_cni_template() {
  cni_conflist '{{.PodCIDR}}' /run/containerd/cni-ipam >"$STATE/cni-template.json"
}

# ---------------------------------------------------------------------------------------------------------------
# Daemons of a node
node_start_daemons() {
  local n=$1 r st i
  r=$(nrun "$n")
  st=$(nstate "$n")
  mkdir -p "$r" "$st/logs"
  echo "=== $(date -Is) containerd starting" >>"$st/logs/containerd.log"
  # shellcheck disable=SC2016
  setsid nsenter --mount="$RUN/ns/$n.mnt" --net="/run/netns/$n" --uts="$RUN/ns/$n.uts" --wd=/ -- \
    sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$r/containerd.pid" containerd --config "$st/containerd.toml" \
    </dev/null >>"$st/logs/containerd.log" 2>&1 &
  for ((i = 0; i < 300; i++)); do
    ha_ctr "$n" version >/dev/null 2>&1 && break
    if [ $i -gt 10 ] && ! pid_of "$r/containerd.pid" "$st/containerd.toml" >/dev/null; then
      tail -n 30 "$st/logs/containerd.log" >&2
      die "containerd of $n exited, see $st/logs/containerd.log"
    fi
    sleep 0.1
  done
  ((i < 300)) || die "containerd of $n did not come up in 30s, see $st/logs/containerd.log"
  echo "=== $(date -Is) supervisor starting" >>"$st/logs/kubelet.log"
  setsid nsenter --mount="$RUN/ns/$n.mnt" --net="/run/netns/$n" --uts="$RUN/ns/$n.uts" --wd=/ -- \
    env BED_NODE_RUN="$r" bash "$here/testbed.sh" __kubelet-supervisor "$(bin_dir)" \
    </dev/null >>"$st/logs/kubelet.log" 2>&1 &
  for ((i = 0; i < 50; i++)); do
    pid_of "$r/kubelet-supervisor.pid" __kubelet-supervisor >/dev/null && return 0
    sleep 0.1
  done
  die "the kubelet supervisor of $n did not start, see $st/logs/kubelet.log"
}

node_import_images() {
  local n=$1 st ref have missing=()
  st=$(nstate "$n")
  ha_ctr "$n" images import "$IMAGES_DIR/images.tar" >"$st/logs/image-import.log" 2>&1 ||
    { cat "$st/logs/image-import.log" >&2; die "ctr images import failed on $n"; }
  have=$(ha_ctr "$n" images ls -q)
  while read -r ref _; do grep -qxF "$ref" <<<"$have" || missing+=("$ref"); done <"$IMAGES_DIR/images.txt"
  [ ${#missing[@]} -eq 0 ] || die "images missing on $n after import: ${missing[*]}"
}

# Every process of the node: its kubelet, pods (by cgroup), shims and containerd (by mount namespace), and
# anything else in its namespaces. Then the namespaces go, and with the mount namespace every mount in it.
node_ns_pids_of() {
  local n=$1 net="" uts="" mnt="" p
  mountpoint -q "/run/netns/$n" 2>/dev/null && net="net:[$(stat -L -c %i "/run/netns/$n")]"
  mountpoint -q "$RUN/ns/$n.uts" 2>/dev/null && uts="uts:[$(stat -L -c %i "$RUN/ns/$n.uts")]"
  mountpoint -q "$RUN/ns/$n.mnt" 2>/dev/null && mnt="mnt:[$(stat -L -c %i "$RUN/ns/$n.mnt")]"
  [ -n "$net$uts$mnt" ] || return 0
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
    case " $(readlink "/proc/$p/ns/net" 2>/dev/null) $(readlink "/proc/$p/ns/uts" 2>/dev/null) $(readlink "/proc/$p/ns/mnt" 2>/dev/null) " in
      *" ${net:-none} "* | *" ${uts:-none} "* | *" ${mnt:-none} "*) echo "$p" ;;
    esac
  done
}
node_pod_pids() {
  local n=$1 m
  for m in $(cgroup_mounts); do
    [ -d "$m/$n/kubepods" ] || continue
    find "$m/$n/kubepods" -name cgroup.procs -exec cat {} + 2>/dev/null || true
  done | sort -un
}

node_stop() {
  local n=$1 grace=$2 r p pids=()
  r=$(nrun "$n")
  if p=$(pid_of "$r/kubelet-supervisor.pid" __kubelet-supervisor); then stop_pids "$grace" "$p"; fi
  if p=$(pid_of "$r/kubelet.pid" "$KUBELET_MARK"); then stop_pids "$grace" "$p"; fi
  mapfile -t pids < <(node_pod_pids "$n")
  [ ${#pids[@]} -eq 0 ] || stop_pids "$grace" "${pids[@]}"
  mapfile -t pids < <(for p in $(node_ns_pids_of "$n"); do
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == containerd-shim* ]] && echo "$p"; done)
  [ ${#pids[@]} -eq 0 ] || stop_pids "$grace" "${pids[@]}"
  if p=$(pid_of "$r/containerd.pid" "$(nstate "$n")/containerd.toml"); then stop_pids "$grace" "$p"; fi
  mapfile -t pids < <(node_ns_pids_of "$n")
  if [ ${#pids[@]} -gt 0 ]; then
    warn "stopping leftover processes of $n: $(for p in "${pids[@]}"; do printf '%s(%s) ' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"; done)"
    stop_pids "$grace" "${pids[@]}"
  fi
  mapfile -t pids < <(node_pod_pids "$n")
  [ ${#pids[@]} -eq 0 ] || stop_pids "$grace" "${pids[@]}"
  node_down_namespaces "$n"
  rm -rf --one-file-system "$r"
}

node_boot() {
  local n=$1
  node_up_namespaces "$n"
  node_start_daemons "$n"
  sync_routes
}

# ---------------------------------------------------------------------------------------------------------------
# The load balancer
lb_start() {
  local cfg=$STATE/lb/haproxy.cfg n
  mkdir -p "$STATE/lb" "$RUN/lb"
  {
    cat <<EOF
# haproxy in front of the test bed's apiservers (written by scripts/testbed/ha.sh)
global
  stats socket $RUN/lb/admin.sock mode 600 level admin
  log stdout format raw local0 info
defaults
  mode tcp
  log global
  option tcplog
  timeout connect 3s
  timeout client 1h
  timeout server 1h
  timeout check 2s
frontend apiserver
  bind $LB_IP:6443
  default_backend apiservers
backend apiservers
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server check check-ssl verify none inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
EOF
    for i in 1 2 3 4 5; do echo "  server selfhost-cp$i $(node_ip "selfhost-cp$i"):6443"; done
  } >"$cfg"
  haproxy -c -q -f "$cfg" || die "haproxy rejects $cfg"
  # shellcheck disable=SC2016
  setsid nsenter --net="/run/netns/$LB_NS" -- sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$RUN/lb/haproxy.pid" \
    haproxy -W -db -f "$cfg" </dev/null >>"$LOGS/haproxy.log" 2>&1 &
  for ((n = 0; n < 50; n++)); do
    [ -S "$RUN/lb/admin.sock" ] && return 0
    sleep 0.1
  done
  die "haproxy did not start, see $LOGS/haproxy.log"
}
lb_servers() { echo 'show servers state apiservers' | socat stdio "unix:$RUN/lb/admin.sock" 2>/dev/null |
  awk 'NR > 2 && NF > 5 { s = ($6 == 2 ? "UP" : "DOWN"); print $4, s }'; }
lb_up() { [ "$(lb_servers | awk -v n="$1" '$1 == n {print $2}')" = UP ]; }

# ---------------------------------------------------------------------------------------------------------------
# Health
node_ready_named() {
  [ "$(kubectl_ get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
static_pods_of() { # static_pods_of NODE [SINCE]
  local NODE_NAME=$1
  static_pods_state "${2:-0}"
}

join_node() {
  local n=$1 bin rc=0
  bin=$(bin_dir)
  write_node_configs "$n" join
  ha_in_node "$n" env PATH="$bin:$PATH" kubeadm join --config "$(nstate "$n")/kubeadm.yaml" \
    >"$(nstate "$n")/logs/kubeadm-join.log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    tail -n 40 "$(nstate "$n")/logs/kubeadm-join.log" >&2
    die "kubeadm join of $n failed ($rc), see $(nstate "$n")/logs/"
  fi
  sync_routes
  wait_for "$n's four static pods" 300 static_pods_of "$n"
  wait_for "$n UP in the load balancer" 120 lb_up "$n"
}

# ---------------------------------------------------------------------------------------------------------------
# Commands
ha_up() {
  local count=$1 t_total=$SECONDS bin i n
  need_root
  [[ $count =~ ^[2-5]$ ]] || die "--control-planes must be 1 to 5, not '$count'"
  mkdir -p "$CACHE_ROOT"
  stage "host packages"
  ensure_packages
  command -v haproxy >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends haproxy \
      >>"$CACHE_ROOT/apt-install.log" 2>&1 || die "apt-get install haproxy failed, see $CACHE_ROOT/apt-install.log"
  }
  stage "binaries (cache)"
  bin=$(bash "$here/build-binaries.sh" 2>>"$CACHE_ROOT/build.log" | tail -n 1) ||
    die "build-binaries.sh failed, see $CACHE_ROOT/build.log"
  stage "images (cache)"
  export BED_ADDONS=1
  IMAGES_DIR=$(bash "$here/build-images.sh" "$bin" | tail -n 1) || die "build-images.sh failed"
  if [ "$(cat "$MODE_FILE" 2>/dev/null)" = "ha $count" ] && ha_healthy; then
    stage_end
    say "the bed is already up with $count control-plane nodes (kubeconfig: $HOST_KUBECONFIG)"
    return 0
  fi
  stage "clean up earlier runs"
  ha_down quiet
  do_down quiet
  mkdir -p "$STATE" "$LOGS" "$RUN"
  echo "ha $count" >"$MODE_FILE"
  echo "$bin" >"$STATE/bin-dir"
  echo 1 >"$STATE/addons"
  for i in $(seq 1 "$count"); do echo "selfhost-cp$i"; done >"$STATE/nodes.list"
  for m in "${NODE_BINDS[@]}" "${ADDON_HOST_PATHS[@]}" /run/containerd; do record_created "$m"; done
  for m in "${NODE_BINDS[@]}" /run/containerd; do mkdir -p "$m"; done
  TOKEN=$(in_path kubeadm token generate)
  CERT_KEY=$(in_path kubeadm certs certificate-key)
  printf 'TOKEN=%s\nCERT_KEY=%s\n' "$TOKEN" "$CERT_KEY" >"$STATE/join.env"
  chmod 600 "$STATE/join.env"
  stage "fabric + load balancer"
  check_ha_addresses
  fabric_up
  lb_start
  write_cni_template
  stage "nodes: namespaces, containerd, images"
  for n in $(nodes); do
    node_up_namespaces "$n"
    write_node_configs "$n" init
    node_start_daemons "$n"
  done
  local pids=()
  for n in $(nodes); do node_import_images "$n" & pids+=($!); done
  for i in "${pids[@]}"; do wait "$i" || die "image import failed"; done
  stage "kubeadm init selfhost-cp1"
  local rc=0 first=selfhost-cp1
  ha_in_node "$first" env PATH="$bin:$PATH" kubeadm init --config "$(nstate "$first")/kubeadm.yaml" --upload-certs \
    >"$(nstate "$first")/logs/kubeadm-init.log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    tail -n 40 "$(nstate "$first")/logs/kubeadm-init.log" >&2
    die "kubeadm init failed ($rc), see $(nstate "$first")/logs/"
  fi
  install -m 600 "$(ndisk "$first")/etc/kubernetes/admin.conf" "$HOST_KUBECONFIG"
  wait_for "$first's four static pods" 180 static_pods_of "$first"
  wait_for "$first UP in the load balancer" 120 lb_up "$first"
  CA_HASH=$(openssl x509 -pubkey -noout -in "$(ndisk "$first")/etc/kubernetes/pki/ca.crt" |
    openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)
  echo "CA_HASH=$CA_HASH" >>"$STATE/join.env"
  for n in $(nodes | tail -n +2); do
    stage "kubeadm join $n"
    join_node "$n"
  done
  stage "nodes Ready, routes"
  for n in $(nodes); do wait_for "node $n Ready" 180 node_ready_named "$n"; done
  sync_routes
  stage "kube-proxy + CoreDNS"
  kubectl_ --request-timeout=0 -n kube-system rollout status daemonset/kube-proxy --timeout=180s >/dev/null ||
    die "kube-proxy did not become ready"
  kubectl_ --request-timeout=0 -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null ||
    die "CoreDNS did not become ready"
  stage "smoke across nodes"
  ha_smoke
  print_stages
  say "up in $((SECONDS - t_total))s: $(nodes | tr '\n' ' ')behind $LB_IP:6443; kubeconfig: $HOST_KUBECONFIG"
  say "  export KUBECONFIG=\$(bash $here/testbed.sh kubeconfig)"
}

# record_created PATH: PATH and its missing parents, deepest first, for `down` to remove (rmdir) later.
record_created() {
  local p=$1
  while [ "$p" != / ] && [ ! -e "$p" ]; do echo "$p" >>"$CREATED_ON_HOST"; p=$(dirname "$p"); done
}

in_path() { env PATH="$(bin_dir 2>/dev/null || true):$CACHE_ROOT/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION:$PATH" "$@"; }

check_ha_addresses() {
  local HOST_IF=$HOST_IF NODE_IP=$LB_IP NET_PREFIX=24
  check_addresses
}

ha_healthy() {
  local n
  [ -f "$HOST_KUBECONFIG" ] || return 1
  for n in $(nodes); do
    pid_of "$(nrun "$n")/kubelet.pid" "$KUBELET_MARK" >/dev/null || return 1
    node_ready_named "$n" || return 1
  done
  readyz
}

# A busybox DaemonSet: every pod resolves the API's name, connects to its ClusterIP, and pings every other pod.
ha_smoke() {
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: bed-smoke, namespace: default}
spec:
  selector: {matchLabels: {app: bed-smoke}}
  template:
    metadata: {labels: {app: bed-smoke}}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]
      containers:
      - name: busybox
        image: $BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
EOF
  kubectl_ --request-timeout=0 rollout status daemonset/bed-smoke --timeout=180s >/dev/null ||
    { kubectl_ describe pods -l app=bed-smoke >&2 || true; die "the smoke DaemonSet did not become ready"; }
  local svc pods pod ip other
  svc=$(kubectl_ get service kubernetes -o jsonpath='{.spec.clusterIP}')
  pods=$(kubectl_ get pods -l app=bed-smoke -o jsonpath='{range .items[*]}{.metadata.name} {.status.podIP} {.spec.nodeName}{"\n"}{end}')
  while read -r pod ip n; do
    kubectl_ exec "$pod" -- nslookup kubernetes.default.svc.cluster.local 2>&1 | grep -qx "Address:[[:space:]]*$svc" ||
      die "pod $pod on $n could not resolve kubernetes.default.svc.cluster.local to $svc"
    kubectl_ exec "$pod" -- sh -c "echo | nc -w 5 $svc 443 >/dev/null" || die "pod $pod on $n could not connect to $svc:443"
    for other in $(awk -v me="$pod" '$1 != me {print $2}' <<<"$pods"); do
      kubectl_ exec "$pod" -- ping -c 1 -W 3 "$other" >/dev/null || die "pod $pod on $n could not reach pod IP $other"
    done
  done <<<"$pods"
  say "smoke: $(wc -l <<<"$pods") pods, one per node, resolved the API's name, connected to $svc:443 and reached each other"
  [ -n "${BED_KEEP_SMOKE:-}" ] || kubectl_ delete daemonset bed-smoke --cascade=foreground --wait=true >/dev/null
}

ha_down() {
  local quiet=${1:-} n p m left=()
  [ -f "$MODE_FILE" ] || [ -e "/run/netns/$FABRIC" ] || [ -d "$RUN/nodes" ] || return 0
  for n in $(nodes) $(ls "$RUN/nodes" 2>/dev/null); do node_stop "$n" 2; done
  if p=$(pid_of "$RUN/lb/haproxy.pid" haproxy); then stop_pids 5 "$p"; fi
  for n in "$LB_NS" "$FABRIC"; do [ ! -e "/run/netns/$n" ] || ip netns delete "$n" || true; done
  if ip link show "$HOST_IF" >/dev/null 2>&1; then ip link delete "$HOST_IF" || true; fi
  if mountpoint -q "$RUN/ns" 2>/dev/null; then umount "$RUN/ns" || umount -l "$RUN/ns"; fi
  for m in $(cgroup_mounts); do
    for n in "$m"/selfhost-cp*; do [ -d "$n" ] && { find "$n" -depth -type d -exec rmdir {} + 2>/dev/null || true; }; done
  done
  ip route show | awk -v d="$HOST_IF" '$0 ~ ("dev " d) {print $1}' | while read -r p; do ip route del "$p" 2>/dev/null || true; done
  rm -f "$MODE_FILE"
  # do_down (testbed.sh) removes the state dirs, the mount points `up` created and checks what is left.
  for m in $(cgroup_mounts); do for n in "$m"/selfhost-cp*; do [ ! -d "$n" ] || left+=("cgroup $n"); done; done
  for n in "$LB_NS" "$FABRIC"; do [ ! -e "/run/netns/$n" ] || left+=("namespace $n"); done
  [ ${#left[@]} -eq 0 ] || die "down: left behind: ${left[*]}"
  [ -n "$quiet" ] || say "down: the HA nodes, load balancer and fabric are gone"
}

ha_reboot() {
  local n=${1:-} wait=1 t0=$SECONDS since
  [ -n "$n" ] || die "reboot needs a node in an HA bed: reboot NODE [--no-wait] (nodes: $(nodes | tr '\n' ' '))"
  [ "${2:-}" = --no-wait ] && wait=0
  valid_node "$n"
  since=$(date +%s)
  say "reboot $n: stopping the node (SIGTERM, SIGKILL after ${BED_REBOOT_GRACE:-30}s)"
  node_stop "$n" "${BED_REBOOT_GRACE:-30}"
  say "reboot $n: down after $((SECONDS - t0))s; booting"
  node_boot "$n"
  say "reboot $n: containerd and kubelet started after $((SECONDS - t0))s"
  [ $wait = 1 ] || return 0
  wait_for "$n's static pods to restart" 300 static_pods_of "$n" "$since"
  say "reboot $n: its four static pods running again $((SECONDS - t0))s after the reboot began"
}

ha_stop() {
  local n=${1:-} grace=30
  [ -n "$n" ] || die "stop needs a node: stop NODE [--kill]"
  [ "${2:-}" = --kill ] && grace=0
  valid_node "$n"
  node_stop "$n" "$grace"
  say "stopped $n (start it again with: testbed.sh start $n)"
}

ha_start() {
  local n=${1:-}
  [ -n "$n" ] || die "start needs a node: start NODE"
  valid_node "$n"
  [ ! -e "/run/netns/$n" ] || die "$n is already running (stop it first)"
  node_boot "$n"
  say "started $n"
}

node_rss_of_pidfile() {
  local p
  p=$(cat "$1" 2>/dev/null) || { echo 0; return; }
  { echo "$p"; pgrep -P "$p"; } | while read -r q; do awk '/^VmRSS:/ {print $2}' "/proc/$q/status" 2>/dev/null; done |
    awk '{kb += $1} END {printf "%d", kb / 1024}'
}

# join: one more control-plane node (the next free name), as an operator adds one: the certificates uploaded again
# with the key in the first node's config (kubeadm deletes the Secret after 2 h), a bootstrap token made if it expired, kubeadm join --control-plane.
ha_join() {
  local n i bin
  need_root
  [ -f "$STATE/join.env" ] || die "the bed is not up with several control-plane nodes (up --control-planes N)"
  # shellcheck disable=SC1091
  . "$STATE/join.env"
  for ((i = 1; i <= 5; i++)); do nodes | grep -qxF "selfhost-cp$i" || break; done
  ((i <= 5)) || die "the bed has room for 5 control-plane nodes"
  n=selfhost-cp$i
  bin=$(bin_dir)
  IMAGES_DIR=$(BED_ADDONS=1 bash "$here/build-images.sh" "$bin" | tail -n 1) || die "build-images.sh failed"
  local t0=$SECONDS first
  first=$(nodes | head -n 1)
  ha_in_node "$first" env PATH="$bin:$PATH" kubeadm init phase upload-certs --upload-certs \
    --config "$(nstate "$first")/kubeadm.yaml" >"$LOGS/upload-certs.log" 2>&1 || die "kubeadm init phase upload-certs failed, see $LOGS/upload-certs.log"
  # The bootstrap token of up lives 24 h: made again if it expired, kept if it is there ("already exists"). kubeadm
  # goes through the load balancer, whose apiservers may still be settling after a node came back (a 403 before
  # RBAC syncs): a few tries. (A token list that failed that way once sent this to create a token that existed.)
  local try out=
  for ((try = 1; try <= 5; try++)); do
    if out=$(ha_in_node "$first" env PATH="$bin:$PATH" kubeadm token create "$TOKEN" --kubeconfig /etc/kubernetes/admin.conf 2>&1) ||
      grep -q 'already exists' <<<"$out"; then break; fi
    ((try < 5)) || die "kubeadm token create failed: $(tail -n 1 <<<"$out")"
    sleep 2
  done
  echo "$n" >>"$STATE/nodes.list"
  node_up_namespaces "$n"
  write_node_configs "$n" join
  node_start_daemons "$n"
  node_import_images "$n"
  join_node "$n"
  wait_for "node $n Ready" 180 node_ready_named "$n"
  sync_routes
  say "joined $n ($(node_ip "$n")) in $((SECONDS - t0))s"
}

# remove NODE: what an operator does to take a control-plane node out for good: kubeadm reset on the node (it
# leaves etcd and deletes its files), the Node object deleted, the node's machine stopped.
ha_remove() {
  local n=${1:-} bin
  need_root
  [ -n "$n" ] || die "remove needs a node: remove NODE"
  valid_node "$n"
  bin=$(bin_dir)
  ha_in_node "$n" env PATH="$bin:$PATH" kubeadm reset --force --cri-socket unix:///run/containerd/containerd.sock \
    >"$(nstate "$n")/logs/kubeadm-reset.log" 2>&1 || die "kubeadm reset on $n failed, see $(nstate "$n")/logs/kubeadm-reset.log"
  etcd_forget "$n"
  # Powered off before its Node object goes, so that no kubelet of it is left to register it again.
  node_stop "$n" 2
  kubectl_ delete node "$n" --wait=true >/dev/null || die "kubectl delete node $n failed"
  grep -vxF "$n" "$STATE/nodes.list" >"$STATE/nodes.list.new" && mv "$STATE/nodes.list.new" "$STATE/nodes.list"
  rm -rf --one-file-system "$(nstate "$n")"
  say "removed $n"
}

# node_memory NODE: the resident memory of every process of the node (its daemons, shims, hostNetwork pods by
# namespace; other pods by cgroup), in MiB; shared pages count once per process, as ps's RSS does.
node_memory() {
  local n=$1
  { node_ns_pids_of "$n"; node_pod_pids "$n"; } | sort -un | while read -r p; do
    awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null
  done | awk '{kb += $1} END {printf "%d", kb / 1024}'
}

# etcd_forget NODE: kubeadm reset does not always take the node's member out of etcd (on this bed it left it, with
# no word in its output); a member left behind counts in the quorum, so the next node down stops the API. Done with
# etcdctl from another node, as an operator does after a reset that did not.
etcd_forget() {
  local n=$1 other id e
  other=$(nodes | grep -vxF "$n" | head -n 1)
  e="$(bin_dir)/etcdctl --endpoints https://127.0.0.1:2379 --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt --key /etc/kubernetes/pki/etcd/healthcheck-client.key"
  # shellcheck disable=SC2086
  id=$(ha_in_node "$other" $e member list 2>/dev/null | awk -F', ' -v n="$n" '$3 == n {print $1}')
  [ -n "$id" ] || return 0
  say "etcd still has a member for $n ($id) after kubeadm reset; removing it"
  # shellcheck disable=SC2086
  ha_in_node "$other" $e member remove "$id" >/dev/null || die "etcdctl member remove $id (for $n) failed"
}

ha_status() {
  local n rc=0 total=0 mib
  say "HA bed: $(nodes | tr '\n' ' ')behind $LB_IP:6443"
  for n in $(nodes); do
    mib=$(node_memory "$n")
    total=$((total + mib))
    if pid_of "$(nrun "$n")/kubelet.pid" "$KUBELET_MARK" >/dev/null; then say "$n ($(node_ip "$n")): kubelet running; memory (RSS of its processes) $mib MiB"; else say "$n: kubelet not running"; rc=1; fi
  done
  say "memory of all nodes: $total MiB; haproxy $(node_rss_of_pidfile "$RUN/lb/haproxy.pid") MiB"
  # Every kubelet and containerd watches files: the host's per-user limit of inotify instances is shared by all nodes.
  say "inotify instances on the host: $(find /proc/[0-9]*/fd -lname 'anon_inode:inotify' 2>/dev/null | wc -l) (limit per user $(cat /proc/sys/fs/inotify/max_user_instances))"
  say "load balancer:"; lb_servers | sed 's/^/  /'
  if readyz; then say "/readyz through the load balancer: ok"; else say "/readyz: not ok"; rc=1; fi
  kubectl_ get nodes -o wide 2>&1 | sed 's/^/  /' || true
  return $rc
}

ha_main() {
  local cmd=$1
  shift
  case $cmd in
    up) ha_up "$@" ;;
    down) need_root; ha_down; do_down ;;
    reboot) need_root; ha_reboot "$@" ;;
    stop) need_root; ha_stop "$@" ;;
    start) need_root; ha_start "$@" ;;
    status) ha_status ;;
    join) ha_join ;;
    remove) ha_remove "$@" ;;
    nodes) nodes ;;
    exec)
      local n=${1:-}
      [ -n "$n" ] || die "exec needs a node in an HA bed: exec NODE [-- CMD...]"
      valid_node "$n"; shift
      [ "${1:-}" != -- ] || shift
      [ $# -gt 0 ] || set -- "${SHELL:-/bin/bash}"
      exec nsenter --mount="$RUN/ns/$n.mnt" --net="/run/netns/$n" --uts="$RUN/ns/$n.uts" --wd=/ -- "$@"
      ;;
    ctr) local n=${1:-}; valid_node "$n"; shift; ha_ctr "$n" "$@" ;;
    path) local n=${1:-}; valid_node "$n"; echo "$(ndisk "$n")${2:-}" ;;
    logs)
      local n=${1:-} what=${2:-kubelet} f
      valid_node "$n"
      case $what in
        containerd | kubelet | kubeadm-init | kubeadm-join | image-import) tail -n "${BED_LOG_LINES:-100}" "$(nstate "$n")/logs/$what.log" ;;
        haproxy) tail -n "${BED_LOG_LINES:-100}" "$LOGS/haproxy.log" ;;
        *)
          f=$(find "$(ndisk "$n")/var/log/pods" -path "*/kube-system_$what-${n}_*/$what/*.log" -printf '%T@ %p\n' 2>/dev/null |
            sort -n | tail -n 1 | cut -d' ' -f2-)
          [ -n "$f" ] || die "no log for '$what' on $n"
          tail -n "${BED_LOG_LINES:-100}" "$f" ;;
      esac ;;
    __node-mounts) node_mounts "$@" ;;
    __etcd-forget) need_root; etcd_forget "$@" ;;
    *) die "'$cmd' is not a command of the HA bed" ;;
  esac
}

ha_main "$@"
