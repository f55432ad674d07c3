"""Marketing mix model: schema, synthetic data with true ROI, adstock and saturation, fit, response
curves, budget optimiser and holdout evaluation."""
