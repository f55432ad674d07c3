# Airflow 3 image with this project installed (same pins as the local venv).
FROM apache/airflow:3.3.2-python3.11
USER root
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless && rm -rf /var/lib/apt/lists/*
USER airflow
COPY --chown=airflow:root . /opt/platform
RUN pip install --no-cache-dir -c /opt/platform/constraints.txt -e /opt/platform
