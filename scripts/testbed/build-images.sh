#!/usr/bin/env bash
# Builds the container images the test bed needs, locally (no registry is reachable), as one OCI image layout
# tarball that `ctr -n k8s.io images import` understands. Images and names:
#   - every image `kubeadm config images list` prints for the bed's ClusterConfiguration (kube-apiserver,
#     kube-controller-manager, kube-scheduler, etcd, pause; CoreDNS and kube-proxy are disabled addons),
#     each a single layer holding the static binary (binaries from build-binaries.sh) on PATH;
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

for f in kubeadm kube-apiserver kube-controller-manager kube-scheduler etcd etcdctl etcdutl; do
  [ -x "$bin/$f" ] || { echo "build-images: $bin/$f missing (run build-binaries.sh first)" >&2; exit 1; }
done

recipe=$(cat "$here/build-images.sh" "$here/pause.c" "$here/versions.env" | sha256sum | cut -c1-12)
out="$CACHE_ROOT/images/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-busybox-$BUSYBOX_TAG-$recipe"
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

# The names kubeadm itself wants, for a ClusterConfiguration like the bed's (addons disabled).
cat > "$work/list.yaml" <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: $K8S_VERSION
dns:
  disabled: true
proxy:
  disabled: true
EOF
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
