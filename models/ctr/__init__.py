"""Click-through rate: the synthetic Avazu world with its true click probabilities, the features, LightGBM."""
