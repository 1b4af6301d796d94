# Production image: locked dependencies, non-root, uvicorn workers (see README, "Deploy").
FROM python:3.12-slim AS build
ENV UV_PROJECT_ENVIRONMENT=/app/.venv UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN pip install --no-cache-dir uv
COPY pyproject.toml uv.lock .python-version ./
RUN uv sync --frozen --no-dev --no-install-project
COPY manage.py ./
COPY config ./config
COPY coupons ./coupons
COPY bin ./bin
# The admin's and Swagger UI's files, collected once: the hashed names and gzip copies that
# WhiteNoise serves with DEBUG off (config/static_files.py). No database or secret needed.
RUN .venv/bin/python manage.py collectstatic --noinput --verbosity 0

FROM python:3.12-slim
RUN useradd --system --uid 10001 --home-dir /app app
WORKDIR /app
COPY --from=build --chown=app:app /app /app
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 DJANGO_DEBUG=0 WEB_CONCURRENCY=2
USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
# bin/serve is the one production command (also what `make bench` measures); it execs
# uvicorn so SIGTERM reaches it (graceful shutdown).
CMD ["bin/serve"]
