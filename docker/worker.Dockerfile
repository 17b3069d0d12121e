# A GPU worker: one process per GPU, concurrency 1, models kept warm between jobs.
FROM pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=webapp.settings HF_HOME=/models/hf
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app

COPY pyproject.toml README.md ./
COPY webapp webapp
COPY accounts accounts
COPY generation generation
COPY api api
COPY storyboards storyboards
COPY worker worker
COPY templates templates
COPY manage.py ./
# torch comes with the base image; the worker extra only adds what it lacks.
RUN pip install ".[worker,s3]"

RUN useradd --create-home --uid 10001 framecraft && mkdir -p /data /models \
    && chown framecraft /data /models
USER framecraft
CMD ["sh", "-c", "exec celery -A webapp worker --pool prefork --concurrency 1 --prefetch-multiplier 1 --queues ${WORKER_QUEUES:-generation,models} --hostname gpu-${GPU_NAME:-0}@%h --loglevel INFO"]
