#!/usr/bin/env bash
# Build the local Kubernetes tool chain from the Go module proxy (no GitHub, no dl.k8s.io):
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, kwokctl, kustomize.
#
# Output goes to a cache outside the repository, keyed by every version:
#   ${TOKENSCALE_CACHE_DIR:-$HOME/.cache/tokenscale}/k8s/<key>/bin/
# Versions live in .ci/k8s-versions.env (also read by serving/stack/kwok.py). The helper modules
# under .ci/k8s-bins/ pin every dependency in a committed go.sum and are built with -mod=readonly,
# so the build is reproducible and works without sum.golang.org.
#
# When the stamp matches, this exits at once without running go. A cold build takes about half an
# hour on 2 cores; see docs/local-kubernetes.md for measured times and disk use.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
mods="$repo/.ci/k8s-bins"
# shellcheck source=k8s-versions.env
source "$repo/.ci/k8s-versions.env"

# Bump when the build recipe (flags, tags, binary list) changes, so caches rebuild.
RECIPE=1
key="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_kustomize-${KUSTOMIZE_VERSION}"
cache="${TOKENSCALE_CACHE_DIR:-$HOME/.cache/tokenscale}"
out="$cache/k8s/$key"
bin="$out/bin"
stamp="$out/stamp"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl kustomize)

# The stamp names the versions, the recipe and the exact module pins; computing it needs no go.
want_stamp() {
  echo "key=$key"
  echo "recipe=$RECIPE"
  (cd "$mods" && sha256sum ./*/go.mod ./*/go.sum)
}

cached() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(want_stamp)" ] || return 1
  local b
  for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
}

if cached; then
  echo "k8s binaries cached at $bin"
  exit 0
fi

command -v go >/dev/null || { echo "go is not installed; Go >= 1.26 is needed to build the k8s binaries" >&2; exit 1; }

mkdir -p "$cache/k8s"
# One build at a time per cache (two worktrees may run make setup-k8s together).
exec 9>"$cache/k8s/.build.lock"
if ! flock -n 9; then
  echo "another build holds $cache/k8s/.build.lock; waiting for it"
  flock 9
fi
if cached; then
  echo "k8s binaries cached at $bin"
  exit 0
fi

# Go settings for every step below.
export GOTOOLCHAIN=local       # fail fast instead of downloading another toolchain
export CGO_ENABLED=0           # every binary here is pure Go; no C toolchain needed
export GOWORK=off
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
export GOPROXY="${GOPROXY%,direct}" # "direct" would try GitHub, which is unreachable
# The committed go.sum is the trust anchor: readonly fails on any missing or different hash, and
# nothing asks sum.golang.org (unreachable here) because go.sum already lists every module.
export GOSUMDB=off
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOMODCACHE="$cache/go/mod"
export GOCACHE="$cache/go/build"

tmp="$out/bin.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
heartbeat_pid=""
cleanup() {
  [ -z "$heartbeat_pid" ] || kill "$heartbeat_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

kind=warm
[ -d "$GOCACHE" ] || kind=cold
t0=$(date +%s)
echo "building k8s tools into $out ($(go env GOVERSION), $(nproc) cores, $kind Go cache)"

elapsed() { local s=$(($(date +%s) - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# step N TOTAL NAME MODULE_DIR CMD...: run one build step with a heartbeat so a long compile
# visibly stays alive.
step() {
  local n=$1 total=$2 name=$3 dir=$4
  shift 4
  local t
  t=$(date +%s)
  echo "[$n/$total] $name ..."
  # The heartbeat's sleep must not hold our stdout (a pipe reader would wait for it) or the lock.
  (while sleep 30 >/dev/null 2>&1; do echo "      ... still building $name ($(elapsed "$t"))"; done) 9>&- &
  heartbeat_pid=$!
  (cd "$mods/$dir" && "$@")
  kill "$heartbeat_pid" 2>/dev/null || true
  wait "$heartbeat_pid" 2>/dev/null || true
  heartbeat_pid=""
  echo "[$n/$total] $name done in $(elapsed "$t")"
}

total=9
step 1 $total "download modules (proxy: $GOPROXY)" . \
  bash -c 'for d in kube etcd kwok kustomize; do (cd "$d" && go mod download); done'

# Version ldflags as hack/lib/version.sh sets them, on both version packages. buildDate is the
# module's release time, not now, so two builds of one version produce identical binaries.
build_date="$(cd "$mods/kube" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)"
minor="${K8S_VERSION#v1.}"
minor="${minor%%.*}"
kube_ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  kube_ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=$build_date"
done

n=1
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  n=$((n + 1))
  step $n $total "$c $K8S_VERSION" kube \
    go build -trimpath -tags notest,grpcnotrace -ldflags "$kube_ldflags" -o "$tmp/$c" "k8s.io/kubernetes/cmd/$c"
done
step 6 $total "etcd $ETCD_VERSION" etcd \
  go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
step 7 $total "kwok $KWOK_VERSION" kwok \
  go build -trimpath -ldflags "-s -w" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok
step 8 $total "kwokctl $KWOK_VERSION" kwok \
  go build -trimpath -ldflags "-s -w" -o "$tmp/kwokctl" sigs.k8s.io/kwok/cmd/kwokctl
step 9 $total "kustomize $KUSTOMIZE_VERSION" kustomize \
  go build -trimpath -ldflags "-s -w" -o "$tmp/kustomize" sigs.k8s.io/kustomize/kustomize/v5

# Smoke-test every binary before declaring the cache good. (Output is captured first: with
# pipefail, `cmd | grep -q` can fail on SIGPIPE.)
expect() {
  local want=$1 got
  shift
  got="$("$@" 2>&1)" || { echo "$* failed: $got" >&2; return 1; }
  grep -qF -- "$want" <<<"$got" || { echo "$* printed '$got', expected '$want'" >&2; return 1; }
}
expect "Kubernetes $K8S_VERSION" "$tmp/kube-apiserver" --version
expect "Kubernetes $K8S_VERSION" "$tmp/kube-controller-manager" --version
expect "Kubernetes $K8S_VERSION" "$tmp/kube-scheduler" --version
expect "Client Version: $K8S_VERSION" "$tmp/kubectl" version --client
expect "etcd Version: ${ETCD_VERSION#v}" "$tmp/etcd" --version
expect "${KWOK_VERSION#v}" "$tmp/kwokctl" --version
expect "${KWOK_VERSION#v}" "$tmp/kwok" --version
expect "$KUSTOMIZE_VERSION" "$tmp/kustomize" version

rm -rf "$bin"
mv "$tmp" "$bin"
want_stamp >"$stamp"

secs=$(($(date +%s) - t0))
{
  echo "$kind build $(date -u +%Y-%m-%dT%H:%M:%SZ) with $(go env GOVERSION) on $(nproc) cores in ${secs} s"
  echo "disk use:"
  du -sh "$bin" "$GOMODCACHE" "$GOCACHE"
  ls -l "$bin"
} | tee "$out/build-info.txt"
echo "$kind build took $(elapsed "$t0") (${secs} s); k8s binaries cached at $bin"
