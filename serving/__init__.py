"""The online service: champions loaded by alias from the MLflow registry act on live traffic (prices, banners,
CTR scores), and every event, quote and impression is logged to Postgres for the batch DAGs (``source=served``)."""
