"""The plain one-auction-at-a-time implementation of models.market.auction's rules (tests and bench only)."""

from __future__ import annotations

import numpy as np

from models.market.auction import AuctionRules


def reference_auctions(
    bids: np.ndarray, budget: np.ndarray, rules: AuctionRules, prio: np.ndarray
) -> tuple[list[int], list[int], list[int]]:
    _, _, reserve, increment = rules.cents()
    remaining = [int(x) for x in budget]
    winners, prices = [], []
    for i in range(bids.shape[0]):
        eligible = [a for a in range(bids.shape[1]) if bids[i, a] >= reserve and bids[i, a] <= remaining[a]]
        if not eligible:
            winners.append(-1)
            prices.append(0)
            continue
        top = max(int(bids[i, a]) for a in eligible)
        winner = max((a for a in eligible if bids[i, a] == top), key=lambda a: prio[i, a])
        second = max((int(bids[i, a]) for a in eligible if a != winner), default=-1)
        price = min(max(second, reserve) + increment, top)
        remaining[winner] -= price
        winners.append(winner)
        prices.append(price)
    spend = [int(b) - r for b, r in zip(budget, remaining)]
    return winners, prices, spend
