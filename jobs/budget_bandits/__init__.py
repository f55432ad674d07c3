"""budget_bandits: Thompson-sampling budget allocation across customer segments."""
