"""banner_bandit_eval: Thompson-sampling banner selection, evaluated offline on logged data."""
