"""Steps of the avazu_ctr pipeline: ingest, sample, validate, features, train, promote."""
