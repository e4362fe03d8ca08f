# labcoat's REST service: `docker build -t labcoat-serve .` then
#   docker run -p 8000:8000 -v $PWD/churn-model:/model -e LABCOAT_TOKEN=... labcoat-serve
# The model folder (from `labcoat fit --out` or Model.save) is mounted at /model; the prediction
# log goes to /data (mount a volume to keep it). Not built in CI: there is no Docker engine there.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 labcoat && mkdir /data && chown labcoat /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install .

USER labcoat
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
# 0.0.0.0 inside the container (the port is published by Docker); set LABCOAT_TOKEN to require a token.
CMD ["labcoat", "serve", "/model", "--host", "0.0.0.0", "--port", "8000", "--log", "/data/predictions.db"]
