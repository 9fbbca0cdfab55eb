# syntax=docker/dockerfile:1
# One image for the API, the Celery GPU worker and the dashboard; docker-compose.yml picks the command.
# torch==2.14.1 from PyPI is the CUDA build (it pulls the nvidia-* runtime wheels), so the worker uses the
# host's GPUs through the NVIDIA container toolkit with no CUDA base image.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: a self-contained virtual environment in /opt/venv --------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, from pyproject.toml alone, so code changes do not re-download torch.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY README.md ./
COPY difficultynet ./difficultynet
COPY service_contracts ./service_contracts
COPY backend ./backend
COPY worker ./worker
COPY dashboard ./dashboard
COPY stack ./stack
RUN pip install --no-deps . && dnet --help > /dev/null

# ---- runtime: the venv, a non-root user, data volumes ------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
RUN groupadd --gid "${UID}" dnet \
    && useradd --uid "${UID}" --gid dnet --create-home --shell /usr/sbin/nologin dnet \
    && mkdir -p /data/datasets /data/runs /data/cache \
    && chown -R dnet:dnet /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DNET_DATA_ROOT=/data/datasets \
    DNET_RUNS_DIR=/data/runs \
    DNET_CACHE_DIR=/data/cache
USER dnet
WORKDIR /home/dnet
EXPOSE 8000 8050

# Default role: the API. docker-compose.yml overrides command and healthcheck for worker and dashboard.
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "stack.healthcheck", "http://127.0.0.1:8000/api/health"]
CMD ["uvicorn", "backend.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
