"""Bandits: the Thompson-sampling core shared by budget allocation and banner selection, pacing,
the simulated budget world and off-policy evaluation."""
