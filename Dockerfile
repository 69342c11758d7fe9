# The image every Airflow component, the GPU worker and the dashboard run from
# (docker-compose.yaml). The app package is installed from include/ so DAGs,
# tasks and the dashboard import the same `wagglebot`.
FROM apache/airflow:3.3.2-python3.11

# The offline TTS engine, ffmpeg for the render, a Korean font for the subtitles, and the
# backup DAG's mariadb-dump and rsync.
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng ffmpeg fonts-nanum \
       mariadb-client rsync \
    && rm -rf /var/lib/apt/lists/*
USER airflow

COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r /tmp/requirements.txt

COPY --chown=airflow:root pyproject.toml /opt/wagglebot/pyproject.toml
COPY --chown=airflow:root include /opt/wagglebot/include
COPY --chown=airflow:root dashboard /opt/wagglebot/dashboard
COPY --chown=airflow:root scrapy_project /opt/wagglebot/scrapy_project
RUN pip install --no-cache-dir --no-deps -e /opt/wagglebot

# Mount points for the named volumes, owned by the airflow user so the
# volumes are created writable for it.
RUN mkdir -p /opt/airflow/media /opt/airflow/secrets /opt/airflow/backups
