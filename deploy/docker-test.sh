#!/bin/sh
# `make docker-test`: build the image and run the compose stack end to end on this machine.
# Adjustments for machines without a registry (docs/operations.md): dockerd without a bridge,
# host networking only, a debootstrapped base image, wheels from the host.
set -eu
cd "$(dirname "$0")/.."
PYBIN=${PYBIN:-.venv/bin/python}
IMAGE=${GTM_FEEDBACK_IMAGE:-gtm-feedback:test}
BASE=${BASE_IMAGE:-local/debian-python:bookworm}
# Debian's docker.io client has BuildKit built in (a newer client may need the buildx plugin).
if [ -x /usr/bin/docker ]; then docker() { /usr/bin/docker "$@"; }; fi

if ! docker info >/dev/null 2>&1; then
  echo "docker-test: starting dockerd (--bridge=none --iptables=false)"
  nohup dockerd --bridge=none --iptables=false >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  case "$BASE" in
    local/*)
      rootfs=$(mktemp -d)
      debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs"
      tar -C "$rootfs" -c . | docker import - "$BASE"
      rm -rf "$rootfs" ;;
  esac
fi
# Wheels for an offline, --no-index install inside the build.
if ! ls deploy/wheelhouse/*.whl >/dev/null 2>&1; then
  "$PYBIN" -m pip wheel --quiet --wheel-dir deploy/wheelhouse "torch==2.13.0" ".[docker,k8s]" setuptools wheel
fi
DOCKER_BUILDKIT=1 docker build --network host --build-arg BASE_IMAGE="$BASE" -t "$IMAGE" .
GTM_FEEDBACK_IMAGE="$IMAGE" "$PYBIN" -m tests.deploy.docker_e2e
