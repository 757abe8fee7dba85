#!/usr/bin/env bash
# A real single-node kubeadm cluster for kubectl-selfhost's end-to-end tests, on one Linux host, no VM, no Docker.
#
# The "node" is a network namespace (selfhost-bed) plus a UTS namespace (hostname selfhost-cp) on this host:
# containerd, the kubelet, kubeadm and every hostNetwork pod run inside them; file systems, /etc/kubernetes,
# /var/lib/kubelet, /var/lib/etcd and cgroups are the host's. See scripts/testbed/README.md.
#
# Usage: testbed.sh up|down|status|reboot [--no-wait]|logs [component] [-f]|kubeconfig|exec [cmd...]|ctr ...|kubectl ...
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

CACHE_ROOT=${SELFHOST_CACHE:-/var/cache/kubectl-selfhost}
export SELFHOST_CACHE=$CACHE_ROOT
NODE_NAME=selfhost-cp
NETNS=selfhost-bed
NETNS_FILE=/run/netns/$NETNS
HOST_IF=selfhost-bed0          # host end of the veth pair
NODE_IF=eth0                   # node end, inside the namespace
HOST_IP=${BED_HOST_IP:-10.213.0.1}
NODE_IP=${BED_NODE_IP:-10.213.0.2}
NET_PREFIX=${BED_NET_PREFIX:-30}
POD_SUBNET=10.244.0.0/16       # kubeadm networking.podSubnet
NODE_POD_CIDR=10.244.0.0/24    # the first /24, which the node-ipam controller gives the only node
SERVICE_SUBNET=10.96.0.0/12    # kubeadm's default
STATE=/var/lib/selfhost-bed    # survives `reboot` (a disk); `down` removes it
RUN=/run/selfhost-bed          # cleared by `reboot` (a tmpfs /run)
LOGS=$STATE/logs
CTR_ROOT=$STATE/containerd
CTR_STATE=$RUN/containerd
CTR_SOCK=$CTR_STATE/containerd.sock
CTR_CONFIG=$STATE/containerd.toml
CNI_CONF_DIR=$STATE/cni/net.d
CNI_NET=selfhost-bed
UTS_NS=$RUN/ns/uts
KUBEADM_CONFIG=$STATE/kubeadm.yaml
HOST_KUBECONFIG=$STATE/kubeconfig
KUBELET_MARK=--config=/var/lib/kubelet/config.yaml  # in the kubelet's command line
# kubeadm's and the kubelet's standard paths: the plugin works on real kubeadm clusters.
KUBE_DIRS=(/etc/kubernetes /var/lib/kubelet /var/lib/etcd /var/log/pods /var/log/containers)
STATIC_PODS=(etcd kube-apiserver kube-controller-manager kube-scheduler)
BUSYBOX_IMAGE=docker.io/library/busybox:1.35.0
KUBECTL_CACHE=$STATE/kubectl-cache  # kubectl run by this script keeps its cache in the bed, not in ~/.kube

# kubeadm preflight checks this bed fails on purpose; each is explained in README.md.
IGNORE_PREFLIGHT=${BED_IGNORE_PREFLIGHT:-}
# BED_ADDONS=1: kubeadm's kube-proxy and CoreDNS addons, from images built here (build-images.sh), so that pods reach
# the API through the kubernetes Service and resolve cluster names. Off by default until the suites are measured
# with it.
ADDONS=${BED_ADDONS:-0}
[[ $ADDONS == [01] ]] || { printf 'testbed: error: BED_ADDONS must be 0 or 1, not %s\n' "$ADDONS" >&2; exit 1; }
export BED_ADDONS=$ADDONS
# kube-proxy's DaemonSet mounts /lib/modules and /run/xtables.lock from the node; where the host has none, containerd
# or the kubelet creates them on the host's file system. `up` lists the ones missing before it starts, so that `down`
# removes only what the bed created.
ADDON_HOST_PATHS=(/lib/modules /run/xtables.lock)
CREATED_ON_HOST=$STATE/created-on-host

say() { printf 'testbed: %s\n' "$*"; }
warn() { printf 'testbed: warning: %s\n' "$*" >&2; }
die() { printf 'testbed: error: %s\n' "$*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

# ---------------------------------------------------------------------------------------------------------------
# Stage timing
STAGES=()
stage_t0=0
stage_name=""
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
stage() { stage_end; stage_name=$1; stage_t0=$(now_ms); say "== $1"; }
stage_end() {
  if [ -n "$stage_name" ]; then
    local ms=$(($(now_ms) - stage_t0))
    STAGES+=("$(printf '%-28s %4d.%01ds' "$stage_name" $((ms / 1000)) $((ms % 1000 / 100)))")
    stage_name=""
  fi
}
print_stages() {
  stage_end
  local s
  say "timings:"
  for s in "${STAGES[@]}"; do printf '  %s\n' "$s"; done
}

# ---------------------------------------------------------------------------------------------------------------
# Helpers
in_node() { nsenter --net="$NETNS_FILE" --uts="$UTS_NS" -- "$@"; }
ctr_() { ctr --address "$CTR_SOCK" --namespace k8s.io "$@"; }
kubectl_() { kubectl --kubeconfig "$HOST_KUBECONFIG" --cache-dir "$KUBECTL_CACHE" --request-timeout=10s "$@"; }

bin_dir() {
  if [ -f "$STATE/bin-dir" ]; then cat "$STATE/bin-dir"; else echo "$CACHE_ROOT/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"; fi
}

# pid_of FILE PATTERN: the pid recorded in FILE if that process is alive and its command line contains PATTERN.
pid_of() {
  local f=$1 pattern=$2 pid cmd
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == *"$pattern"* ]] || return 1
  echo "$pid"
}

# alive PID: the process exists and is not a zombie.
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# stop_pids TIMEOUT PID...: SIGTERM, wait up to TIMEOUT seconds, then SIGKILL what is left.
stop_pids() {
  local timeout=$1 p left i
  shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  # With TIMEOUT 0 (stop --kill) the loop below does not run: everything is left.
  left=("$@")
  for ((i = 0; i < timeout * 10; i++)); do
    left=()
    for p in "$@"; do if alive "$p"; then left+=("$p"); fi; done
    [ ${#left[@]} -gt 0 ] || return 0
    sleep 0.1
  done
  say "still running after ${timeout}s, SIGKILL: $(for p in "${left[@]}"; do
    printf '%s(%s) ' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"; done)"
  kill -KILL "${left[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    left=()
    for p in "$@"; do if alive "$p"; then left+=("$p"); fi; done
    [ ${#left[@]} -gt 0 ] || return 0
    sleep 0.1
  done
}

# The cgroup v1/v2 mount points of this host.
cgroup_mounts() {
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup" || $(i+1) == "cgroup2") print $5; break } }' \
    /proc/self/mountinfo
}

# Pids in the kubelet's pod cgroups (/kubepods, cgroupfs driver): every container process, hostPID ones included.
pod_pids() {
  local m
  for m in $(cgroup_mounts); do
    [ -d "$m/kubepods" ] || continue
    find "$m/kubepods" -name cgroup.procs -exec cat {} + 2>/dev/null || true
  done | sort -un
}

# Pids whose network or UTS namespace is the node's (catches e.g. a kubeadm left running by a killed `up`).
node_ns_pids() {
  local net="" uts="" p
  mountpoint -q "$NETNS_FILE" 2>/dev/null && net="net:[$(stat -L -c %i "$NETNS_FILE" 2>/dev/null)]"
  [ -e "$UTS_NS" ] && mountpoint -q "$UTS_NS" && uts="uts:[$(stat -L -c %i "$UTS_NS" 2>/dev/null)]"
  [ -n "$net$uts" ] || return 0
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] && continue
    [ "$p" = "$BASHPID" ] && continue
    if { [ -n "$net" ] && [ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$net" ]; } ||
      { [ -n "$uts" ] && [ "$(readlink "/proc/$p/ns/uts" 2>/dev/null)" = "$uts" ]; }; then
      echo "$p"
    fi
  done
}

# containerd's shims for the bed: their command line names the bed's own containerd socket.
shim_pids() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    [[ $cmd == *containerd-shim*" -address $CTR_SOCK"* ]] && echo "${p#/proc/}"
  done
  return 0
}

# Mount points at or below one of the given paths, innermost (most recently mounted) first.
mounts_under() {
  local mp prefix
  awk '{print $5}' /proc/self/mountinfo | tac | while read -r mp; do
    for prefix in "$@"; do
      if [ "$mp" = "$prefix" ] || [[ $mp == "$prefix"/* ]]; then echo "$mp"; break; fi
    done
  done
}

unmount_under() {
  local i mp mps=()
  for ((i = 0; i < 5; i++)); do
    mapfile -t mps < <(mounts_under "$@")
    [ ${#mps[@]} -gt 0 ] || return 0
    for mp in "${mps[@]}"; do umount "$mp" 2>/dev/null || true; done
  done
  mapfile -t mps < <(mounts_under "$@")
  for mp in "${mps[@]}"; do
    warn "lazy unmount of busy $mp"
    umount -l "$mp" 2>/dev/null || true
  done
}

# ---------------------------------------------------------------------------------------------------------------
# Host prerequisites
ensure_packages() {
  local -A want=(
    [containerd]=containerd [runc]=runc [containernetworking-plugins]=/usr/lib/cni/bridge
    [busybox-static]=busybox [iproute2]=ip [iptables]=iptables [conntrack]=conntrack [socat]=socat
    [ethtool]=ethtool [gcc]=gcc [libc6-dev]=/usr/lib/x86_64-linux-gnu/libc.a [util-linux]=nsenter
    [mount]=mount [tar]=tar
  )
  local missing=() pkg what
  for pkg in "${!want[@]}"; do
    what=${want[$pkg]}
    if [[ $what == /* ]]; then [ -e "$what" ] && continue; else command -v "$what" >/dev/null && continue; fi
    missing+=("$pkg")
  done
  # busybox must be the static build (it is copied into an image on its own).
  if command -v busybox >/dev/null && ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
    missing+=(busybox-static)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get to install them"
    say "installing ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=600 update -q >"$CACHE_ROOT/apt-update.log" 2>&1 ||
      die "apt-get update failed, see $CACHE_ROOT/apt-update.log"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
      "${missing[@]}" >"$CACHE_ROOT/apt-install.log" 2>&1 ||
      die "apt-get install failed, see $CACHE_ROOT/apt-install.log"
  fi
  command -v kubectl >/dev/null || die "kubectl not found on PATH (the plugin needs it anyway)"
}

# ---------------------------------------------------------------------------------------------------------------
# Network: the node's namespaces
ip2int() { local IFS=.; read -r a b c d <<<"$1"; echo $(((a << 24) | (b << 16) | (c << 8) | d)); }
cidr_overlap() {
  local a=${1%/*} al=${1#*/} b=${2%/*} bl=${2#*/} m
  [ "$al" != "$1" ] || al=32
  [ "$bl" != "$2" ] || bl=32
  m=$((al < bl ? al : bl))
  [ "$m" -gt 0 ] || return 0
  (($(($(ip2int "$a") >> (32 - m))) == $(($(ip2int "$b") >> (32 - m)))))
}

check_addresses() {
  local used=() mine p u
  mapfile -t used < <(
    ip -4 -o addr show | awk -v me="$HOST_IF" '$2 != me && $2 != "lo" {print $4}'
    ip -4 route show table main | awk -v me="$HOST_IF" '$0 !~ ("dev " me "( |$)") {
      for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9.]+(\/[0-9]+)?$/) { print $i; break } }'
  )
  mine=("$NODE_IP/$NET_PREFIX" "$POD_SUBNET" "$SERVICE_SUBNET")
  for p in "${mine[@]}"; do
    for u in "${used[@]}"; do
      [ -n "$u" ] || continue
      if cidr_overlap "$p" "$u"; then
        die "the bed's $p overlaps $u on this host (ip addr / ip route); set BED_NODE_IP/BED_HOST_IP/BED_NET_PREFIX"
      fi
    done
  done
  cidr_overlap "$HOST_IP/$NET_PREFIX" "$NODE_IP/$NET_PREFIX" || die "BED_HOST_IP and BED_NODE_IP not in one /$NET_PREFIX"
}

setup_node_namespaces() {
  check_addresses
  mkdir -p "$RUN/ns" "$LOGS"
  ip netns add "$NETNS"
  ip link add "$HOST_IF" type veth peer name "$NODE_IF" netns "$NETNS"
  # IPv4 only, so the veth does not chatter (router solicitations, DAD) and the node has one address family.
  sysctl -q -w "net.ipv6.conf.$HOST_IF.disable_ipv6=1" || true
  ip addr add "$HOST_IP/$NET_PREFIX" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  nsenter --net="$NETNS_FILE" sh -euc "
    ip link set lo up
    sysctl -q -w net.ipv6.conf.$NODE_IF.disable_ipv6=1 || true
    ip addr add $NODE_IP/$NET_PREFIX dev $NODE_IF
    ip link set $NODE_IF up
    sysctl -q -w net.ipv4.ip_forward=1   # inside the node only: pods <-> node; the host's stays as it is
    # Egress guard: the node and its pods may answer the host but never open a connection out of the node's
    # only link (there is no default route either, so nothing can reach beyond the host's end of the veth).
    iptables -N SELFHOST-BED-GUARD
    iptables -A SELFHOST-BED-GUARD -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
    iptables -A SELFHOST-BED-GUARD -j REJECT
    iptables -I OUTPUT -o $NODE_IF -j SELFHOST-BED-GUARD
    iptables -I FORWARD -o $NODE_IF -j SELFHOST-BED-GUARD
  "
  # The host reaches pod IPs through the node (the answers of host-initiated connections come back this way).
  ip route add "$POD_SUBNET" via "$NODE_IP" dev "$HOST_IF"
  # The node's own hostname, in a UTS namespace kept alive by a bind mount.
  touch "$UTS_NS"
  unshare --uts="$UTS_NS" hostname "$NODE_NAME"
}

teardown_node_namespaces() {
  if [ -e "$NETNS_FILE" ]; then ip netns delete "$NETNS" 2>/dev/null || warn "ip netns delete $NETNS failed"; fi
  if ip link show "$HOST_IF" >/dev/null 2>&1; then ip link delete "$HOST_IF" || true; fi
  if mountpoint -q "$UTS_NS" 2>/dev/null; then umount "$UTS_NS" || umount -l "$UTS_NS" || true; fi
  # `ip netns add` turned /run/netns into a mount point; if nobody else uses it, undo that.
  if [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
    if mountpoint -q /run/netns; then umount /run/netns 2>/dev/null || true; fi
    rmdir /run/netns 2>/dev/null || true
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# Config files
# 1 if this host's capability bounding set lacks CAP_SYS_RESOURCE (bit 24): then no process, root included, may
# lower an oom_score_adj, which runc does for every pause container (-998) unless containerd restricts it.
no_sys_resource() {
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (((16#$bnd >> 24) & 1)) && echo false || echo true
}

# cni_conflist SUBNET IPAM_DIR: the bed's CNI network (bridge cni0, no masquerade, host-local IPAM, portmap); the
# single node writes it with its fixed pod CIDR, ha.sh as containerd's template ({{.PodCIDR}}).
cni_conflist() {
  cat <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NET",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$1" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$2"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
}

write_configs() {
  local bin=$1 pause_image
  pause_image=$(grep '/pause:' "$IMAGES_DIR/images.txt" | cut -d' ' -f1)
  mkdir -p "$STATE" "$CNI_CONF_DIR" "$LOGS"
  cat >"$CTR_CONFIG" <<EOF
# containerd config of the kubectl-selfhost test bed (written by scripts/testbed/testbed.sh)
version = 2
root = "$CTR_ROOT"
state = "$CTR_STATE"
[grpc]
  address = "$CTR_SOCK"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CTR_ROOT/opt"
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
          Root = "$RUN/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$CNI_CONF_DIR"
      max_conf_num = 1
EOF
  cni_conflist "$NODE_POD_CIDR" "$RUN/cni/networks" >"$CNI_CONF_DIR/10-$CNI_NET.conflist"
  {
    cat <<EOF
# kubeadm config of the kubectl-selfhost test bed (written by scripts/testbed/testbed.sh)
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: $NODE_IP
  bindPort: 6443
nodeRegistration:
  name: $NODE_NAME
  criSocket: unix://$CTR_SOCK
  imagePullPolicy: Never
  kubeletExtraArgs:
  - name: node-ip
    value: $NODE_IP
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: $K8S_VERSION
clusterName: selfhost-bed
networking:
  podSubnet: $POD_SUBNET
  serviceSubnet: $SERVICE_SUBNET
EOF
    if [ "$ADDONS" != 1 ]; then
      cat <<EOF
dns:
  disabled: true     # BED_ADDONS=1 builds CoreDNS's image (README.md)
proxy:
  disabled: true     # BED_ADDONS=1 builds kube-proxy's image, with iptables (README.md)
EOF
    fi
    local extra=${BED_APISERVER_EXTRA_ARGS:-} kv k v
    if [ -n "$extra" ]; then
      echo "apiServer:"
      echo "  extraArgs:"
      for kv in ${extra//,/ }; do
        [[ $kv == *=* ]] || die "BED_APISERVER_EXTRA_ARGS: '$kv' is not name=value"
        k=${kv%%=*}; k=${k#--}; v=${kv#*=}
        v=${v//\\/\\\\}; v=${v//\"/\\\"}
        echo "  - name: $k"
        echo "    value: \"$v\""
      done
    fi
    cat <<EOF
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false   # this host has cgroup v1 controllers
EOF
    if [ "$ADDONS" = 1 ]; then
      cat <<EOF
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
conntrack:
  maxPerCore: 0       # nf_conntrack_max is global to the host and read-only from the node's namespace (kind does the same)
iptables:
  minSyncPeriod: 1s
EOF
    fi
  } >"$KUBEADM_CONFIG"
  echo "$bin" >"$STATE/bin-dir"
  echo "$ADDONS" >"$STATE/addons"
}

# ---------------------------------------------------------------------------------------------------------------
# Daemons
start_containerd() {
  mkdir -p "$CTR_STATE" "$LOGS"
  echo "=== $(date -Is) containerd starting" >>"$LOGS/containerd.log"
  # shellcheck disable=SC2016  # $$ and $1 are the inner shell's: it records its pid, then becomes containerd
  setsid nsenter --net="$NETNS_FILE" --uts="$UTS_NS" -- \
    sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$RUN/containerd.pid" containerd --config "$CTR_CONFIG" \
    </dev/null >>"$LOGS/containerd.log" 2>&1 &
  local i
  for ((i = 0; i < 300; i++)); do
    if [ -S "$CTR_SOCK" ] && ctr_ version >/dev/null 2>&1; then return 0; fi
    if [ $i -gt 10 ] && ! pid_of "$RUN/containerd.pid" "$CTR_CONFIG" >/dev/null; then
      tail -n 30 "$LOGS/containerd.log" >&2
      die "containerd exited, see $LOGS/containerd.log"
    fi
    sleep 0.1
  done
  tail -n 30 "$LOGS/containerd.log" >&2
  die "containerd did not come up in 30s"
}

start_kubelet_supervisor() {
  echo "=== $(date -Is) supervisor starting" >>"$LOGS/kubelet.log"
  setsid nsenter --net="$NETNS_FILE" --uts="$UTS_NS" -- \
    bash "$here/testbed.sh" __kubelet-supervisor "$(bin_dir)" </dev/null >>"$LOGS/kubelet.log" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do
    pid_of "$RUN/kubelet-supervisor.pid" __kubelet-supervisor >/dev/null && return 0
    sleep 0.1
  done
  die "the kubelet supervisor did not start, see $LOGS/kubelet.log"
}

# Like systemd's kubelet.service (Restart=always) plus kubeadm's 10-kubeadm.conf drop-in, without systemd.
# Runs inside the node's namespaces; started before `kubeadm init`, it waits for the files kubeadm writes.
kubelet_supervisor() {
  set +e
  local bin=$1 child="" stopping=0 rc
  local RUN=${BED_NODE_RUN:-$RUN}  # ha.sh: each node's own pid files
  mkdir -p "$RUN"
  echo $$ >"$RUN/kubelet-supervisor.pid"
  trap 'stopping=1; if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; fi' TERM INT
  while [ "$stopping" = 0 ]; do
    if [ ! -f /var/lib/kubelet/config.yaml ] || [ ! -f /var/lib/kubelet/kubeadm-flags.env ]; then
      sleep 1 &
      wait $!
      continue
    fi
    KUBELET_KUBEADM_ARGS=""
    # shellcheck disable=SC1091
    . /var/lib/kubelet/kubeadm-flags.env
    # shellcheck disable=SC2086  # word splitting of the flags is what systemd does with $KUBELET_KUBEADM_ARGS
    "$bin/kubelet" --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \
      --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml \
      $KUBELET_KUBEADM_ARGS ${KUBELET_EXTRA_ARGS:-} &
    child=$!
    echo "$child" >"$RUN/kubelet.pid"
    echo "=== $(date -Is) supervisor: kubelet started, pid $child"
    wait "$child"
    rc=$?
    while alive "$child"; do # wait was interrupted by a signal; the kubelet is still stopping
      wait "$child"
      rc=$?
    done
    echo "=== $(date -Is) supervisor: kubelet pid $child exited ($rc)"
    child=""
    rm -f "$RUN/kubelet.pid"
    if [ "$stopping" = 0 ]; then sleep 2 & wait $!; fi
  done
  rm -f "$RUN/kubelet-supervisor.pid"
  echo "=== $(date -Is) supervisor: stopped"
}

# Everything a power cycle ends: processes, mounts, runtime state under /run, pod cgroups, the node's namespaces.
# Disk state (/etc/kubernetes, /var/lib/{kubelet,etcd}, the bed's containerd root) is kept.
# stop_node GRACE: processes get SIGTERM and GRACE seconds before SIGKILL (a reboot: 30; down: 2).
stop_node() {
  local grace=$1 p pids=() sockets=() f
  if p=$(pid_of "$RUN/kubelet-supervisor.pid" __kubelet-supervisor); then stop_pids "$grace" "$p"; fi
  if p=$(pid_of "$RUN/kubelet.pid" "$KUBELET_MARK"); then stop_pids "$grace" "$p"; fi
  mapfile -t pids < <(pod_pids)
  if [ ${#pids[@]} -gt 0 ]; then stop_pids "$grace" "${pids[@]}"; fi
  # containerd's shims; their socket addresses are in the bundles under containerd's state dir.
  mapfile -t pids < <(shim_pids)
  for f in "$CTR_STATE"/io.containerd.runtime.v2.task/*/*/address; do
    [ -f "$f" ] || continue
    p=$(cat "$f"); p=${p#unix://}
    [[ $p == /run/containerd/s/* ]] && sockets+=("$p")
  done
  if [ ${#pids[@]} -gt 0 ]; then stop_pids "$grace" "${pids[@]}"; fi
  if p=$(pid_of "$RUN/containerd.pid" "$CTR_CONFIG"); then stop_pids "$grace" "$p"; fi
  # Whatever else still lives in the node's namespaces (e.g. kubeadm from an interrupted `up`).
  mapfile -t pids < <(node_ns_pids)
  if [ ${#pids[@]} -gt 0 ]; then
    warn "stopping leftover processes in the node's namespaces: $(for p in "${pids[@]}"; do
      printf '%s(%s) ' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"; done)"
    stop_pids "$grace" "${pids[@]}"
  fi
  mapfile -t pids < <(pod_pids)
  if [ ${#pids[@]} -gt 0 ]; then stop_pids "$grace" "${pids[@]}"; fi
  # Mounts: pod volumes (tmpfs), the kubelet's rshared bind of its root dir, container root file systems, shm,
  # pod network namespaces (under containerd's state dir), the node's UTS namespace.
  unmount_under /var/lib/kubelet "$RUN" "$STATE"
  for f in "${sockets[@]}"; do rm -f "$f"; done
  # containerd hard-codes /run/containerd/s for shim sockets (and ctr uses /run/containerd/{fifo,runc}).
  rmdir /run/containerd/s /run/containerd/fifo /run/containerd/runc/k8s.io /run/containerd/runc /run/containerd \
    2>/dev/null || true
  # The pod cgroups the kubelet and runc made (cgroupfs driver), deepest first.
  for p in $(cgroup_mounts); do
    if [ -d "$p/kubepods" ]; then find "$p/kubepods" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  teardown_node_namespaces
  rm -rf --one-file-system "$RUN"
}

# ---------------------------------------------------------------------------------------------------------------
# Health
readyz() { kubectl_ get --raw /readyz >/dev/null 2>&1; }
node_ready() {
  [ "$(kubectl_ get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
processes_up() {
  pid_of "$RUN/containerd.pid" "$CTR_CONFIG" >/dev/null &&
    pid_of "$RUN/kubelet-supervisor.pid" __kubelet-supervisor >/dev/null &&
    pid_of "$RUN/kubelet.pid" "$KUBELET_MARK" >/dev/null
}
healthy() { [ -f "$HOST_KUBECONFIG" ] && processes_up && readyz && node_ready; }

# static_pods_state [SINCE_EPOCH]: "name=phase/ready/started" per control-plane mirror pod; exit 0 when all four run,
# are ready, and (if SINCE is given) their containers started at or after SINCE.
static_pods_state() {
  local since=${1:-0} ok=0 c line phase ready started t
  for c in "${STATIC_PODS[@]}"; do
    line=$(kubectl_ -n kube-system get pod "$c-$NODE_NAME" -o \
      jsonpath='{.status.phase} {.status.containerStatuses[0].ready} {.status.containerStatuses[0].state.running.startedAt}' \
      2>/dev/null) || line="absent"
    read -r phase ready started <<<"$line"
    printf '%s=%s/ready=%s/started=%s ' "$c" "${phase:-?}" "${ready:-?}" "${started:-?}"
    t=0
    [ -n "${started:-}" ] && t=$(date -d "$started" +%s 2>/dev/null || echo 0)
    if [ "$phase" != Running ] || [ "$ready" != true ] || [ "$t" -lt "$since" ]; then ok=1; fi
  done
  echo
  return $ok
}

# wait_for DESCRIPTION TIMEOUT_S COMMAND...: poll every second; on timeout print what was seen last.
wait_for() {
  local what=$1 timeout=$2 start=$SECONDS out=""
  shift 2
  while true; do
    if out=$("$@" 2>&1); then return 0; fi
    if ((SECONDS - start >= timeout)); then
      echo "$out" >&2
      die "timed out after ${timeout}s waiting for $what (last seen above)"
    fi
    sleep 1
  done
}

# ---------------------------------------------------------------------------------------------------------------
# Subcommands
cmd_up() {
  need_root
  local t_total=$SECONDS bin
  mkdir -p "$CACHE_ROOT"
  stage "host packages"
  ensure_packages
  stage "binaries (cache)"
  if [ ! -f "$CACHE_ROOT/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/.complete" ] && ! command -v go >/dev/null; then
    die "the binaries are not cached and building them needs Go >= 1.24 on PATH (https://go.dev/dl)"
  fi
  bin=$(bash "$here/build-binaries.sh" 2>>"$CACHE_ROOT/build.log" | tail -n 1) ||
    die "build-binaries.sh failed, see $CACHE_ROOT/build.log"
  [ -f "$bin/.complete" ] || die "build-binaries.sh did not produce $bin"
  stage "images (cache)"
  IMAGES_DIR=$(bash "$here/build-images.sh" "$bin" | tail -n 1) || die "build-images.sh failed"
  if healthy && [ "$(cat "$STATE/addons" 2>/dev/null || echo 0)" = "$ADDONS" ]; then
    stage_end
    say "the bed is already up and healthy (kubeconfig: $HOST_KUBECONFIG)"
    return 0
  fi
  stage "clean up earlier runs"
  do_down quiet
  stage "node namespaces"
  setup_node_namespaces
  write_configs "$bin"
  stage "containerd"
  start_containerd
  stage "image import"
  ctr_ images import "$IMAGES_DIR/images.tar" >"$LOGS/image-import.log" 2>&1 ||
    { cat "$LOGS/image-import.log" >&2; die "ctr images import failed"; }
  local ref have missing=()
  have=$(ctr_ images ls -q)
  while read -r ref _; do
    grep -qxF "$ref" <<<"$have" || missing+=("$ref")
  done <"$IMAGES_DIR/images.txt"
  [ ${#missing[@]} -eq 0 ] || die "images missing after import: ${missing[*]}"
  if [ "$ADDONS" = 1 ]; then
    for f in "${ADDON_HOST_PATHS[@]}"; do [ -e "$f" ] || echo "$f" >>"$CREATED_ON_HOST"; done
  fi
  stage "kubelet supervisor"
  start_kubelet_supervisor
  stage "kubeadm init"
  local ignore="" rc=0
  [ -n "$IGNORE_PREFLIGHT" ] && ignore="--ignore-preflight-errors=$IGNORE_PREFLIGHT"
  # shellcheck disable=SC2086
  in_node env PATH="$bin:$PATH" kubeadm init --config "$KUBEADM_CONFIG" $ignore \
    >"$LOGS/kubeadm-init.log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    tail -n 40 "$LOGS/kubeadm-init.log" >&2
    die "kubeadm init failed ($rc), see $LOGS/kubeadm-init.log, $LOGS/kubelet.log, $LOGS/containerd.log"
  fi
  grep -E '^\[(preflight|WARNING)|^\s*\[WARNING' "$LOGS/kubeadm-init.log" | grep WARNING | sed 's/^/  kubeadm: /' || true
  install -m 600 /etc/kubernetes/admin.conf "$HOST_KUBECONFIG"
  stage "node Ready"
  wait_for "node $NODE_NAME Ready" 180 node_ready
  stage "static pods + readyz"
  wait_for "the four control-plane mirror pods Running and ready" 180 static_pods_state
  wait_for "/readyz" 60 kubectl_ get --raw /readyz
  if [ "$ADDONS" = 1 ]; then
    stage "kube-proxy + CoreDNS"
    kubectl_ --request-timeout=0 -n kube-system rollout status daemonset/kube-proxy --timeout=180s >/dev/null ||
      die "kube-proxy did not become ready (bash $here/testbed.sh kubectl -n kube-system describe pods -l k8s-app=kube-proxy)"
    kubectl_ --request-timeout=0 -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null ||
      die "CoreDNS did not become ready (bash $here/testbed.sh kubectl -n kube-system describe pods -l k8s-app=kube-dns)"
  fi
  stage "smoke Deployment"
  smoke_deployment
  print_stages
  say "up in $((SECONDS - t_total))s; node $NODE_NAME at $NODE_IP; kubeconfig: $HOST_KUBECONFIG"
  say "  export KUBECONFIG=\$(bash $here/testbed.sh kubeconfig)"
}

smoke_deployment() {
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bed-smoke
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: bed-smoke}
  template:
    metadata:
      labels: {app: bed-smoke}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations:
      - key: node-role.kubernetes.io/control-plane
        operator: Exists
        effect: NoSchedule
      containers:
      - name: busybox
        image: $BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: ["sh", "-c", "echo bed-smoke ok; trap 'exit 0' TERM; sleep 3600 & wait"]
EOF
  if ! kubectl_ --request-timeout=0 rollout status deployment/bed-smoke --timeout=180s; then
    kubectl_ describe pods -l app=bed-smoke >&2 || true
    die "the smoke Deployment did not become available"
  fi
  kubectl_ get pods -l app=bed-smoke -o wide
  if [ "$ADDONS" = 1 ]; then
    # From a pod: the API's name resolves through CoreDNS, and its ClusterIP answers through kube-proxy's rules.
    local ip
    ip=$(kubectl_ get service kubernetes -o jsonpath='{.spec.clusterIP}')
    kubectl_ exec deploy/bed-smoke -- nslookup kubernetes.default.svc.cluster.local 2>&1 | grep -qx "Address:[[:space:]]*$ip" ||
      die "a pod could not resolve kubernetes.default.svc.cluster.local to $ip through CoreDNS"
    # busybox nc has no -z: a line sent and the connection closed by the server is a connection made.
    kubectl_ exec deploy/bed-smoke -- sh -c "echo | nc -w 5 $ip 443 >/dev/null" ||
      die "a pod could not connect to the kubernetes Service at $ip:443 (kube-proxy's rules)"
    say "smoke: a pod resolved kubernetes.default.svc.cluster.local to $ip and connected to it"
  fi
  if [ -z "${BED_KEEP_SMOKE:-}" ]; then kubectl_ delete deployment bed-smoke --cascade=foreground --wait=true >/dev/null; fi
}

do_down() {
  local quiet=${1:-}
  stop_node 2
  if [ -f "$CREATED_ON_HOST" ]; then
    while read -r f; do
      if [ -d "$f" ]; then rmdir "$f" 2>/dev/null || true; elif [ -f "$f" ] && [ ! -s "$f" ]; then rm -f "$f"; fi
    done <"$CREATED_ON_HOST"
  fi
  rm -rf --one-file-system "${KUBE_DIRS[@]}" "$STATE"
  rm -f /var/lib/cni/results/"$CNI_NET"-* 2>/dev/null || true
  rmdir /var/lib/cni/results /var/lib/cni/networks /var/lib/cni 2>/dev/null || true
  rmdir -p /usr/libexec/kubernetes/kubelet-plugins/volume/exec 2>/dev/null || true
  rm -rf "${HOME:-/root}/.kube/cache/discovery/${NODE_IP}_6443"
  local left=() d
  [ ! -e "$NETNS_FILE" ] || left+=("namespace $NETNS_FILE")
  ! ip link show "$HOST_IF" >/dev/null 2>&1 || left+=("link $HOST_IF")
  for d in "${KUBE_DIRS[@]}" "$STATE" "$RUN"; do [ ! -e "$d" ] || left+=("$d"); done
  mapfile -t -O "${#left[@]}" left < <(mounts_under /var/lib/kubelet "$RUN" "$STATE" | sed 's/^/mount /')
  mapfile -t -O "${#left[@]}" left < <({ pod_pids; shim_pids; } | sed 's/^/process /')
  for d in $(cgroup_mounts); do [ ! -d "$d/kubepods" ] || left+=("cgroup $d/kubepods"); done
  [ ${#left[@]} -eq 0 ] || die "down: left behind: ${left[*]}"
  [ -n "$quiet" ] || say "down: nothing of the bed is left (cache kept in $CACHE_ROOT)"
}

cmd_down() {
  need_root
  do_down
}

cmd_reboot() {
  need_root
  local wait=1
  [ "${1:-}" = --no-wait ] && wait=0
  if [ ! -f /etc/kubernetes/admin.conf ] || [ ! -f "$KUBEADM_CONFIG" ]; then die "the bed is not set up (run up first)"; fi
  local t0=$SECONDS since
  since=$(date +%s)
  say "reboot: stopping the node (SIGTERM, SIGKILL after ${BED_REBOOT_GRACE:-30}s)"
  stop_node "${BED_REBOOT_GRACE:-30}"
  say "reboot: node down after $((SECONDS - t0))s; booting"
  setup_node_namespaces
  start_containerd
  start_kubelet_supervisor
  say "reboot: containerd and kubelet started after $((SECONDS - t0))s"
  [ $wait = 1 ] || return 0
  wait_for "/readyz after reboot" 300 kubectl_ get --raw /readyz
  say "reboot: /readyz ok $((SECONDS - t0))s after the reboot began"
  wait_for "the control-plane static pods to restart" 300 static_pods_state "$since"
  say "reboot: all four static pods running again $((SECONDS - t0))s after the reboot began"
}

cmd_status() {
  local p pid rc=0
  say "node $NODE_NAME, IP $NODE_IP (host side $HOST_IP on $HOST_IF), kubeconfig $HOST_KUBECONFIG"
  if [ -e "$NETNS_FILE" ]; then
    say "network namespace $NETNS:"
    nsenter --net="$NETNS_FILE" ip -4 -brief addr | sed 's/^/  /'
  else
    say "network namespace $NETNS: absent"; rc=1
  fi
  for p in "containerd:$CTR_CONFIG" kubelet-supervisor:__kubelet-supervisor "kubelet:$KUBELET_MARK"; do
    if pid=$(pid_of "$RUN/${p%%:*}.pid" "${p#*:}"); then
      say "${p%%:*}: running, pid $pid"
    else
      say "${p%%:*}: not running"; rc=1
    fi
  done
  local shims
  shims=$(shim_pids | tr '\n' ' ')
  say "containerd shims: ${shims:-none}"
  [ -f "$HOST_KUBECONFIG" ] || { say "no kubeconfig (bed not up)"; return 1; }
  if readyz; then say "/readyz: ok"; else say "/readyz: not ok"; rc=1; fi
  kubectl_ get nodes -o wide 2>&1 | sed 's/^/  /' || true
  kubectl_ -n kube-system get pods -o wide 2>&1 | sed 's/^/  /' || true
  return $rc
}

cmd_logs() {
  local what="" follow="" a
  for a in "$@"; do
    if [ "$a" = -f ]; then follow=1; else what=$a; fi
  done
  local tailcmd=(tail -n "${BED_LOG_LINES:-100}")
  [ -n "$follow" ] && tailcmd+=(-F)
  case $what in
    "")
      for f in containerd kubelet; do echo "==> $LOGS/$f.log <=="; tail -n 40 "$LOGS/$f.log" 2>/dev/null || true; done
      ;;
    containerd | kubelet | kubeadm-init | image-import) "${tailcmd[@]}" "$LOGS/$what.log" ;;
    kubeadm) "${tailcmd[@]}" "$LOGS/kubeadm-init.log" ;;
    *)
      # A control-plane component (or any kube-system pod's container): the newest kubelet log file.
      local f
      f=$(find /var/log/pods -path "/var/log/pods/kube-system_$what-${NODE_NAME}_*/$what/*.log" -printf '%T@ %p\n' \
        2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-)
      [ -n "$f" ] || die "no log for '$what' (known: containerd kubelet kubeadm ${STATIC_PODS[*]})"
      echo "==> $f <=="
      "${tailcmd[@]}" "$f"
      ;;
  esac
}

usage() {
  cat <<EOF
usage: $0 COMMAND
  up                 build/reuse binaries and images, start the node, kubeadm init, wait until healthy
  down               stop and remove everything of the bed (keeps the cache in $CACHE_ROOT)
  status             processes, namespace, /readyz, nodes and kube-system pods
  reboot [--no-wait] simulate a node reboot (no kubeadm); waits for /readyz and the static pods unless --no-wait
  logs [COMPONENT] [-f]  containerd | kubelet | kubeadm | etcd | kube-apiserver | kube-controller-manager | kube-scheduler
  kubeconfig         print the path of the host's admin kubeconfig
  exec [CMD...]      run CMD (default: a shell) in the node's network and UTS namespaces
  ctr ARGS...        ctr against the bed's containerd, namespace k8s.io
  kubectl ARGS...    kubectl with the bed's kubeconfig
EOF
}

# The HA layout (ha.sh) and the single node share $STATE, $RUN and the addresses: one at a time.
ha_mode() { [ -f "$STATE/mode" ] || [ -e /run/netns/selfhost-fabric ]; }

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  if [ "$cmd" = up ] && [ "${1:-}" = --control-planes ]; then
    [[ ${2:-} =~ ^[1-5]$ ]] || die "--control-planes takes 1 to 5, not '${2:-}'"
    if [ "$2" != 1 ]; then exec bash "$here/ha.sh" up "$2"; fi
    shift 2
  fi
  if [ "$cmd" = up ] && ha_mode; then need_root; bash "$here/ha.sh" down; fi
  case $cmd in
    down | reboot | stop | start | status | exec | ctr | nodes | path | logs | join | remove)
      if ha_mode; then exec bash "$here/ha.sh" "$cmd" "$@"; fi ;;
  esac
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    reboot) cmd_reboot "$@" ;;
    status) cmd_status "$@" ;;
    logs) cmd_logs "$@" ;;
    kubeconfig)
      [ -f "$HOST_KUBECONFIG" ] || warn "$HOST_KUBECONFIG does not exist yet (run up)"
      echo "$HOST_KUBECONFIG"
      ;;
    exec)
      [ -e "$NETNS_FILE" ] || die "the node's namespace does not exist (run up)"
      if [ $# -eq 0 ]; then set -- "${SHELL:-/bin/bash}"; fi
      exec nsenter --net="$NETNS_FILE" --uts="$UTS_NS" -- "$@"
      ;;
    ctr) exec ctr --address "$CTR_SOCK" --namespace k8s.io "$@" ;;
    nodes) echo "$NODE_NAME" ;;
    path) echo "${2:-}" ;;  # path NODE PATH: where the host sees PATH of NODE (the single node shares the host's)
    stop | start | join | remove) die "$cmd is for a bed with several control-plane nodes (up --control-planes N)" ;;
    kubectl) exec kubectl --kubeconfig "$HOST_KUBECONFIG" --cache-dir "$KUBECTL_CACHE" "$@" ;;
    __kubelet-supervisor) kubelet_supervisor "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

# ha.sh sources this file for its settings and helpers (BED_SOURCED=1) and runs its own commands.
[ -n "${BED_SOURCED:-}" ] || main "$@"
