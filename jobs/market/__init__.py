"""What the two market pipelines share (market_rl_training trains, market_nightly evaluates): the scripted
advertisers, RLlib glue, the registered policy models and the classifier scores the pricing env samples."""
