# One image for the API, the orchestration worker and the robot worker (role set by command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    KAIBAN_CHROMIUM_PATH=/usr/bin/chromium-headless-shell KAIBAN_ENVIRONMENT=production

# Debian's Chromium headless shell for the robots (the engine of chromium without its UI: ~40 % less CPU
# per filing), CJK fonts so evidence screenshots are legible
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium-headless-shell fonts-noto-cjk fonts-hanazono ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .

RUN useradd --create-home --uid 10001 kaiban && mkdir -p /app/data && chown -R kaiban /app/data
USER kaiban

EXPOSE 8000
CMD ["python", "-m", "uvicorn", "--factory", "api.app:create_app", "--host", "0.0.0.0", "--port", "8000"]
