"""The science of the platform: pure functions and objects, no I/O to MLflow, Airflow or Spark."""
