#!/bin/bash
# The MLflow server with its basic-auth app, as `make stack` runs it (stack/prepare.py writes the same ini).
set -euo pipefail
umask 077
cat > /tmp/basic_auth.ini <<INI
[mlflow]
default_permission = READ
database_uri = ${MLFLOW_AUTH_DATABASE_URI}
admin_username = ${MLFLOW_ADMIN_USER}
admin_password = ${MLFLOW_ADMIN_PASSWORD}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 60
INI
export MLFLOW_AUTH_CONFIG_PATH=/tmp/basic_auth.ini
exec mlflow server --host 0.0.0.0 --port 5000 --app-name basic-auth --serve-artifacts --workers 1 \
  --artifacts-destination /mlflow/artifacts
