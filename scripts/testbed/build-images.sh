#!/usr/bin/env bash
# Builds the container images the test bed needs, locally (no registry is reachable), as one OCI image layout
# tarball that `ctr -n k8s.io images import` understands. Images and names:
#   - every image `kubeadm config images list` prints for the bed's ClusterConfiguration (kube-apiserver,
#     kube-controller-manager, kube-scheduler, etcd, pause; with BED_ADDONS=1 also kube-proxy and CoreDNS, which
#     are disabled addons otherwise), each a single layer holding the static binary (binaries from
#     build-binaries.sh; CoreDNS from build-coredns.sh at the version kubeadm names) on PATH; kube-proxy's image
#     also holds Debian's iptables (nft variant) with its libraries and extensions, copied from this host;
#   - with BED_ADDONS=1, kubectl-selfhost.local/bed-prober:v1, the in-cluster API prober built from prober/ here;
#   - docker.io/library/busybox:<version of Debian's busybox-static> (the plugin's default node-agent image).
# pause is built from pause.c (ours) with gcc -static.
# Usage: build-images.sh BIN_DIR   (prints the cache directory holding images.tar and images.txt)
# The result is cached under ${SELFHOST_CACHE:-/var/cache/kubectl-selfhost}/images/, keyed by the versions and a
# hash of this script and pause.c, so a warm run is a no-op.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
CACHE_ROOT=${SELFHOST_CACHE:-/var/cache/kubectl-selfhost}
bin=${1:?usage: build-images.sh BIN_DIR}
BUSYBOX_TAG=1.35.0
PROBER_IMAGE=kubectl-selfhost.local/bed-prober:v1

for f in kubeadm kube-apiserver kube-controller-manager kube-scheduler etcd etcdctl etcdutl; do
  [ -x "$bin/$f" ] || { echo "build-images: $bin/$f missing (run build-binaries.sh first)" >&2; exit 1; }
done

ADDONS=${BED_ADDONS:-0}
[[ $ADDONS == [01] ]] || { echo "build-images: BED_ADDONS must be 0 or 1, not '$ADDONS'" >&2; exit 1; }
# The Debian packages whose files go into the kube-proxy image: their versions are part of the recipe.
IPTABLES_PACKAGES=(iptables libxtables12 libnftnl11 libmnl0 libnetfilter-conntrack3 libnfnetlink0 libc6 netbase)
recipe_inputs() {
  cat "$here/build-images.sh" "$here/pause.c" "$here/versions.env"
  if [ "$ADDONS" = 1 ]; then
    cat "$here/build-coredns.sh" "$here/prober/go.mod" "$here/prober/main.go"
    dpkg-query -W -f '${Package} ${Version}\n' "${IPTABLES_PACKAGES[@]}"
  fi
}
recipe=$(recipe_inputs | sha256sum | cut -c1-12)
suffix=""; [ "$ADDONS" = 1 ] && suffix="-addons"
out="$CACHE_ROOT/images/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-busybox-$BUSYBOX_TAG$suffix-$recipe"
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "build-images: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
  echo "build-images: $busybox is dynamically linked; install busybox-static" >&2; exit 1
fi
bb_version=$("$busybox" 2>&1 | sed -n '1s/^BusyBox v\([0-9.]*\).*/\1/p')
if [ "$bb_version" != "$BUSYBOX_TAG" ]; then
  echo "build-images: $busybox is version '$bb_version', not $BUSYBOX_TAG; the tag would lie" >&2; exit 1
fi

mkdir -p "$CACHE_ROOT/images"
exec 9>"$CACHE_ROOT/images/.lock"
flock 9 # one build at a time; a concurrent run waits and then finds the result
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi
work=$(mktemp -d "$CACHE_ROOT/images/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
layout="$work/layout"
mkdir -p "$layout/blobs/sha256"
printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
manifests=()

# Writes stdin as a blob; prints "sha256:<hex> <size>".
put_blob() {
  local tmp="$work/blob.tmp" hex
  cat > "$tmp"
  hex=$(sha256sum "$tmp" | cut -d' ' -f1)
  mv "$tmp" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex $(stat -c %s "$layout/blobs/sha256/$hex")"
}

json_array() { # json_array a b c -> ["a","b","c"] (values must not contain quotes or backslashes)
  local out="" v
  for v in "$@"; do out+="${out:+,}\"$v\""; done
  echo "[$out]"
}

# A skeleton root file system shared by all images (a little like distroless/static).
base_rootfs() {
  local r=$1
  mkdir -p "$r"/{dev,proc,sys,etc,run,tmp,root,var/run,usr/local/bin,bin}
  chmod 1777 "$r/tmp"
  chmod 700 "$r/root"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
  printf 'hosts: files dns\n' > "$r/etc/nsswitch.conf"
}

# make_image REF ROOTFS_DIR ENTRYPOINT_JSON CMD_JSON: one uncompressed layer, deterministic (sorted, mtime 0, uid 0).
make_image() {
  local ref=$1 rootfs=$2 entrypoint=$3 cmd=$4 layer config manifest created=1970-01-01T00:00:00Z
  layer=$(tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu -C "$rootfs" -cf - . | put_blob)
  config=$(printf '%s' "{\"created\":\"$created\",\"architecture\":\"amd64\",\"os\":\"linux\",\
\"config\":{\"Env\":[\"PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin\"],\
\"Entrypoint\":$entrypoint,\"Cmd\":$cmd,\"WorkingDir\":\"/\"},\
\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"${layer% *}\"]},\
\"history\":[{\"created\":\"$created\",\"created_by\":\"kubectl-selfhost scripts/testbed/build-images.sh\"}]}" | put_blob)
  manifest=$(printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"${config% *}\",\"size\":${config#* }},\
\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"${layer% *}\",\"size\":${layer#* }}]}" | put_blob)
  manifests+=("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"${manifest% *}\",\
\"size\":${manifest#* },\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\
\"annotations\":{\"io.containerd.image.name\":\"$ref\",\"org.opencontainers.image.ref.name\":\"${ref##*:}\"}}")
  echo "$ref ${manifest% *}" >> "$work/images.txt"
  echo "build-images: $ref (layer ${layer#* } bytes)" >&2
}

# kube-proxy's iptables: Debian's nft variant (the one the host and the bed's guard chain use; mixing the legacy
# and nft back ends in one network namespace is what distroless-iptables' wrapper exists to avoid), its ldd closure
# and the extensions it loads with dlopen, which ldd cannot see.
iptables_rootfs() {
  local r=$1 multi=/usr/sbin/xtables-nft-multi f lib
  [ -x "$multi" ] || { echo "build-images: $multi missing (apt-get install iptables)" >&2; exit 1; }
  mkdir -p "$r/usr/sbin" "$r/usr/lib/x86_64-linux-gnu/xtables" "$r/usr/lib64"
  ln -s usr/lib "$r/lib"
  ln -s usr/lib64 "$r/lib64"
  cp "$multi" "$r/usr/sbin/"
  for f in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -s xtables-nft-multi "$r/usr/sbin/$f"
  done
  cp /usr/lib/x86_64-linux-gnu/xtables/*.so "$r/usr/lib/x86_64-linux-gnu/xtables/"
  for lib in $( { ldd "$multi"; for f in /usr/lib/x86_64-linux-gnu/xtables/*.so; do ldd "$f"; done; } |
      awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u); do
    cp -L "$lib" "$r/usr/lib/x86_64-linux-gnu/"
  done
  cp -L /lib64/ld-linux-x86-64.so.2 "$r/usr/lib64/"
  cp /etc/protocols "$r/etc/"
  [[ $(chroot "$r" /usr/sbin/iptables --version) == *nf_tables* ]] ||
    { echo "build-images: iptables in the kube-proxy image does not run" >&2; exit 1; }
}

# The names kubeadm itself wants, for a ClusterConfiguration like the bed's (addons disabled unless BED_ADDONS=1).
{
  printf 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: %s\n' "$K8S_VERSION"
  [ "$ADDONS" = 1 ] || printf 'dns:\n  disabled: true\nproxy:\n  disabled: true\n'
} > "$work/list.yaml"
# unshare --net: kubeadm gets no network at all while it lists names.
mapfile -t refs < <(unshare --net "$bin/kubeadm" config images list --config "$work/list.yaml" 2>/dev/null)
[ "${#refs[@]}" -gt 0 ] || { echo "build-images: kubeadm config images list printed nothing" >&2; exit 1; }

for ref in "${refs[@]}"; do
  name=${ref%:*}; name=${name##*/}; tag=${ref##*:}
  r="$work/rootfs-$name"
  base_rootfs "$r"
  case $name in
    kube-apiserver|kube-controller-manager|kube-scheduler)
      [ "$tag" = "$K8S_VERSION" ] || { echo "build-images: kubeadm wants $ref but K8S_VERSION=$K8S_VERSION" >&2; exit 1; }
      cp "$bin/$name" "$r/usr/local/bin/$name"
      make_image "$ref" "$r" "$(json_array "/usr/local/bin/$name")" "[]"
      ;;
    etcd)
      [ "v${tag%-*}" = "$ETCD_VERSION" ] || { echo "build-images: kubeadm wants $ref but ETCD_VERSION=$ETCD_VERSION" >&2; exit 1; }
      cp "$bin/etcd" "$bin/etcdctl" "$bin/etcdutl" "$r/usr/local/bin/"
      make_image "$ref" "$r" "[]" "$(json_array /usr/local/bin/etcd)"
      ;;
    kube-proxy)
      [ "$tag" = "$K8S_VERSION" ] || { echo "build-images: kubeadm wants $ref but K8S_VERSION=$K8S_VERSION" >&2; exit 1; }
      [ -x "$bin/kube-proxy" ] || { echo "build-images: $bin/kube-proxy missing (run build-binaries.sh first)" >&2; exit 1; }
      cp "$bin/kube-proxy" "$r/usr/local/bin/kube-proxy"
      iptables_rootfs "$r"
      make_image "$ref" "$r" "[]" "$(json_array /usr/local/bin/kube-proxy)"
      ;;
    coredns)
      coredns=$(bash "$here/build-coredns.sh" "$tag" | tail -n 1)
      cp "$coredns" "$r/coredns"
      make_image "$ref" "$r" "$(json_array /coredns)" "[]"
      ;;
    pause)
      gcc -static -O2 -Wall -Wextra -Werror -o "$r/pause" "$here/pause.c"
      strip "$r/pause"
      make_image "$ref" "$r" "$(json_array /pause)" "[]"
      ;;
    *)
      echo "build-images: kubeadm wants $ref, which this script does not know how to build" >&2; exit 1
      ;;
  esac
done

if [ "$ADDONS" = 1 ]; then
  r="$work/rootfs-bed-prober"
  base_rootfs "$r"
  (cd "$here/prober" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$r/bed-prober" .)
  make_image "$PROBER_IMAGE" "$r" "$(json_array /bed-prober)" "[]"
fi

r="$work/rootfs-busybox"
base_rootfs "$r"
mkdir -p "$r"/{home,usr/bin,usr/sbin,sbin,var/tmp}
chmod 1777 "$r/var/tmp"
cp "$busybox" "$r/bin/busybox"
while read -r applet; do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$r/$(dirname "$applet")"
  ln -sf /bin/busybox "$r/$applet"
done < <("$busybox" --list-full)
make_image "docker.io/library/busybox:$BUSYBOX_TAG" "$r" "[]" "$(json_array sh)"

(IFS=,; printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
  "${manifests[*]}") > "$layout/index.json"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$layout" -cf "$work/images.tar" .
rm -rf "$out"
mkdir -p "$out"
mv "$work/images.tar" "$work/images.txt" "$out/"
touch "$out/.complete"
echo "$out"
