# The web tier: Django over ASGI (HTTP + websockets). No GPU stack in this image.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=webapp.settings
WORKDIR /app

COPY pyproject.toml README.md ./
COPY webapp webapp
COPY accounts accounts
COPY generation generation
COPY api api
COPY storyboards storyboards
COPY worker worker
COPY templates templates
COPY static static
COPY manage.py ./
RUN pip install ".[s3]"

# collectstatic runs with throwaway settings: the real ones come from the environment.
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=collectstatic-only \
    REDIS_URL=redis://localhost:6379/0 python manage.py collectstatic --noinput

RUN useradd --create-home --uid 10001 framecraft && mkdir -p /data && chown framecraft /data
USER framecraft
EXPOSE 8000
# Forwarded headers are believed only from FRAMECRAFT_TRUSTED_PROXIES (the TLS proxy's address
# as the container sees it); migrate has checked the value's form before uvicorn starts.
CMD ["sh", "-c", "python manage.py migrate --noinput && exec uvicorn webapp.asgi:application --host 0.0.0.0 --port 8000 --proxy-headers --forwarded-allow-ips \"${FRAMECRAFT_TRUSTED_PROXIES:-127.0.0.1}\" --workers ${WEB_WORKERS:-2}"]
