# irdata: docker build -t irdata .            (CPU torch)
#         docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 -t irdata:cuda .
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

WORKDIR /opt/irdata
RUN pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"
COPY setup.cfg pyproject.toml README.md ./
COPY irdata ./irdata
COPY pipelines ./pipelines
COPY manifests ./manifests
RUN pip install ".[train,s3]"

WORKDIR /work
ENTRYPOINT ["irdata"]
CMD ["--help"]
