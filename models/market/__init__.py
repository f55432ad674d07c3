"""Markets: second-price auctions, customers and their lifecycle, the retargeting simulator, the
dynamic-pricing simulator, the RL environments and curriculum, and bidder evaluation."""
