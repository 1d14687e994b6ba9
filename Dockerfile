# The app on the offline demo lineage, with PNG/SVG/PDF export through Debian's Chromium.
#
#   docker build -t legal-attention .
#   docker run --rm -p 8501:8501 -v legal-attention-data:/data legal-attention
#
# torch==2.13.0 is pinned in requirements.txt. On PyPI that wheel pulls the multi-GB CUDA
# stack; where the pip index lacks the CPU wheel, build with the PyTorch CPU index:
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu -t legal-attention .
# which passes `--extra-index-url https://download.pytorch.org/whl/cpu` to pip.
FROM python:3.11-slim

ARG TORCH_INDEX=""

# BROWSER_PATH: where kaleido (figure export) and interp.export find the browser.
# INTERP_DEMO_DIR: the demo checkpoints, inside the image. INTERP_HOME: the user's concept sets
# and the app's runs, in a volume so they survive a new container.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BROWSER_PATH=/usr/bin/chromium \
    INTERP_DEMO_DIR=/opt/interp/demo \
    INTERP_HOME=/data

# Chromium renders PNG/SVG/PDF; fonts-liberation gives the figures' text a real font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-liberation \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app \
    && mkdir -p /app /data /opt/interp \
    && chown app:app /app /data /opt/interp

WORKDIR /app

# Dependencies first, so a change to the code does not reinstall them.
COPY --chown=app:app requirements.txt ./
RUN pip install --no-cache-dir ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} -r requirements.txt

COPY --chown=app:app . .

USER app

# The tiny base → CPT → IFT lineage the app opens on first start (about two minutes, once).
# Offline on purpose: the demo is trained from generated text, nothing is downloaded.
RUN HF_HUB_OFFLINE=1 python -m interp demo build

VOLUME ["/data"]
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=5).read().strip() == b'ok' else 1)"

# XSRF protection is also on in .streamlit/config.toml; said again here so no config can drop it.
CMD ["streamlit", "run", "app.py", \
     "--server.address", "0.0.0.0", "--server.port", "8501", \
     "--server.headless", "true", "--server.enableXsrfProtection", "true", \
     "--browser.gatherUsageStats", "false"]
