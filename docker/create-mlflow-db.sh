#!/bin/bash
# First start of the Postgres container: the MLflow databases next to Airflow's (names from stack.env).
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "CREATE DATABASE \"$MLFLOW_DB\"" -c "CREATE DATABASE \"$MLFLOW_AUTH_DB\"" \
  -c "CREATE DATABASE \"$SERVING_DB\""
