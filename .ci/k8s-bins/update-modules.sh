#!/usr/bin/env bash
# Regenerate the helper modules' go.mod and go.sum from .ci/k8s-versions.env.
#
# Run this only when a version changes, then commit every go.mod/go.sum under .ci/k8s-bins/.
# The build (.ci/build-k8s.sh) never edits these files: it builds with -mod=readonly, so the
# committed go.sum is what every later build is checked against.
#
# sum.golang.org is not reachable from the build machines, so this runs with GOSUMDB=off: the
# hashes recorded here come from the module proxy over HTTPS. Where the checksum database is
# reachable, run with TOKENSCALE_GOSUMDB=sum.golang.org to have them cross-checked.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../k8s-versions.env
source "$here/../k8s-versions.env"
cache="${TOKENSCALE_CACHE_DIR:-$HOME/.cache/tokenscale}"

export GOTOOLCHAIN=local CGO_ENABLED=0
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
export GOSUMDB="${TOKENSCALE_GOSUMDB:-off}"
export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build"
# -mod=mod: this script is the one place allowed to write go.mod and go.sum.
export GOFLAGS="-mod=mod -buildvcs=false"
goversion="$(go env GOVERSION)"
goversion="${goversion#go}"

# fresh_module DIR NAME: start DIR over with an empty go.mod for module NAME.
fresh_module() {
  rm -f "$1/go.mod" "$1/go.sum"
  (cd "$1" && go mod init "$2" >/dev/null 2>&1 && go mod edit -go="${goversion%.*}.0")
}

echo "== kube: k8s.io/kubernetes $K8S_VERSION"
dir="$here/kube"
fresh_module "$dir" local.invalid/tokenscale/k8s-bins/kube
gomod="$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | grep '"GoMod"' | cut -d'"' -f4)"
# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging paths;
# replaces in a dependency are ignored, so point each at its published v0.<minor>.<patch> release.
staging_version="v0.${K8S_VERSION#v1.}"
staging=$(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod" | sort -u)
[ -n "$staging" ] || { echo "no staging replaces found in $gomod" >&2; exit 1; }
(
  cd "$dir"
  for m in $staging; do go mod edit -replace="$m=$m@$staging_version"; done
  go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    go mod edit -tool="k8s.io/kubernetes/cmd/$c"
  done
  go mod tidy
)
echo "   $(echo "$staging" | wc -l) staging modules replaced with $staging_version"

echo "== etcd: go.etcd.io/etcd/server/v3 $ETCD_VERSION"
dir="$here/etcd"
fresh_module "$dir" local.invalid/tokenscale/k8s-bins/etcd
(cd "$dir" && go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" && go mod tidy)

echo "== kwok: sigs.k8s.io/kwok $KWOK_VERSION"
dir="$here/kwok"
fresh_module "$dir" local.invalid/tokenscale/k8s-bins/kwok
(cd "$dir" && go get -tool "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION" \
  && go mod tidy)

echo "== kustomize: sigs.k8s.io/kustomize/kustomize/v5 $KUSTOMIZE_VERSION"
dir="$here/kustomize"
fresh_module "$dir" local.invalid/tokenscale/k8s-bins/kustomize
(cd "$dir" && go get -tool "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" && go mod tidy)

echo "done; commit .ci/k8s-bins/*/go.mod and go.sum"
