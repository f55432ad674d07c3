#!/usr/bin/env bash
# Start or stop the Airflow UI (airflow standalone) and the MLflow UI on localhost.
# Called by `make ui` / `make stop`, which export AIRFLOW_HOME, the ports and PATH.
set -euo pipefail
run_dir="$AIRFLOW_HOME/run"
mkdir -p "$run_dir" "$PWD/.mlflow/artifacts"

stop() {
  for name in airflow mlflow; do
    if [[ -f "$run_dir/$name.pid" ]]; then
      kill -- "-$(cat "$run_dir/$name.pid")" 2>/dev/null || kill "$(cat "$run_dir/$name.pid")" 2>/dev/null || true
      rm -f "$run_dir/$name.pid"
      echo "stopped $name"
    fi
  done
}

wait_http() {  # url, seconds
  for _ in $(seq "$2"); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 1
  done
  return 1
}

start() {
  stop >/dev/null
  setsid nohup airflow standalone > "$AIRFLOW_HOME/standalone.log" 2>&1 &
  echo $! > "$run_dir/airflow.pid"
  setsid nohup mlflow server --host 127.0.0.1 --port "$MLFLOW_PORT" \
    --backend-store-uri "sqlite:///$PWD/.mlflow/mlflow.db" \
    --default-artifact-root "$PWD/.mlflow/artifacts" > "$AIRFLOW_HOME/mlflow.log" 2>&1 &
  echo $! > "$run_dir/mlflow.pid"
  echo "starting Airflow (log: $AIRFLOW_HOME/standalone.log) and MLflow (log: $AIRFLOW_HOME/mlflow.log)..."
  wait_http "http://127.0.0.1:$MLFLOW_PORT/health" 90 || { echo "MLflow did not start"; tail -20 "$AIRFLOW_HOME/mlflow.log"; exit 1; }
  wait_http "http://127.0.0.1:$AIRFLOW_PORT/api/v2/monitor/health" 180 || { echo "Airflow did not start"; tail -30 "$AIRFLOW_HOME/standalone.log"; exit 1; }
  pw_file="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
  password=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['admin'])" "$pw_file" 2>/dev/null || echo "see $pw_file")
  echo
  echo "Airflow UI : http://127.0.0.1:$AIRFLOW_PORT   login: admin / $password"
  echo "MLflow UI  : http://127.0.0.1:$MLFLOW_PORT"
  echo "Trigger 'avazu_ctr' in the Airflow UI (Trigger -> edit Params). 'make stop' ends both."
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop"; exit 2 ;;
esac
