"""pricing_models: agent detection and dynamic-pricing models from clickstream sessions."""
