"""Pricing: synthetic clickstream sessions, session features, the agent classifier, the multi-task
purchase model and the distilled pricing rules."""
