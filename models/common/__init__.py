"""What several domains share: intervals over seeds and named random streams."""
