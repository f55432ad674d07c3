"""Simulated traffic for the service, from the project's own simulators (``python -m serving.simulate``).

Shoppers: sessions of the synthetic clickstream post their events, ask for a price of their offered product,
and buy it with their true purchase probability at the price they were served (a purchase event). Banners:
visitors of each configured context see a banner and click it with the banner world's true CTR. What the
service logs from this is what ``pricing_models`` and ``banner_bandit_eval`` read with ``source=served``.
"""

from __future__ import annotations

import argparse
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from models.common.streams import stream
from models.pricing.synth import ClickstreamSpec, generate, purchase_probability

log = logging.getLogger(__name__)


class Client:
    """A thin HTTP client of the service (a session per thread pool, the API key when set)."""

    def __init__(self, base_url: str, api_key: str = "", timeout: float = 30.0) -> None:
        import requests

        self.base, self.timeout = base_url.rstrip("/"), timeout
        self.http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=16)
        self.http.mount("http://", adapter)
        if api_key:
            self.http.headers["X-API-Key"] = api_key

    def call(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.http.request(method, self.base + path, timeout=self.timeout, **kw)
        resp.raise_for_status()
        return resp.json()


def shoppers(client: Client, n_sessions: int, seed: int, batch_events: int = 2000, threads: int = 8,
             first_session: int = 0) -> dict[str, int]:
    """Replay ``n_sessions`` synthetic sessions through the service; returns counts of what was sent."""
    spec = ClickstreamSpec(n_sessions=first_session + n_sessions, seed=seed)
    events, offers, truth = (pd.concat(parts, ignore_index=True) for parts in zip(*generate(spec)))
    keep = events["sessionId"].isin(offers["sessionId"].iloc[first_session:])
    events = events[keep]
    offers, truth = offers.iloc[first_session:].reset_index(drop=True), truth.iloc[first_session:]
    records = json.loads(events.to_json(orient="records"))
    for i in range(0, len(records), batch_events):
        client.call("POST", "/v1/events", json={"events": records[i:i + batch_events]})

    def quote(row: Any) -> float:
        return client.call("GET", f"/v1/price/{int(row.productId)}", params={"session_id": row.sessionId})["price"]

    with ThreadPoolExecutor(threads) as pool:
        prices = np.array(list(pool.map(quote, offers.itertuples())))
    p_buy = purchase_probability(truth["alpha"].to_numpy(), truth["beta"].to_numpy(), prices,
                                 offers["list_price"].to_numpy())
    bought = stream(seed, "serving.purchases").random(len(offers)) < p_buy
    last = events.groupby("sessionId", sort=False).tail(1).set_index("sessionId").loc[offers["sessionId"]]
    purchases = last.reset_index().assign(eventType="purchase", productId=offers["productId"].to_numpy(),
                                          category=offers["category"].to_numpy(),
                                          price=prices, timestamp=last["timestamp"].to_numpy() + 1500)[bought]
    buys = json.loads(purchases[events.columns].to_json(orient="records"))
    for i in range(0, len(buys), batch_events):
        client.call("POST", "/v1/events", json={"events": buys[i:i + batch_events]})
    return {"sessions": len(offers), "events": len(records), "quotes": len(prices), "purchases": int(bought.sum())}


def banner_visits(client: Client, contexts: list[dict[str, Any]], ctr: np.ndarray, n: int, seed: int,
                  threads: int = 8) -> dict[str, int]:
    """``n`` banner requests spread over ``contexts``; a click with probability ``ctr[context, creative]``."""
    rng = stream(seed, "serving.banner_visits")
    which = rng.integers(0, len(contexts), n)
    u = rng.random(n)

    def visit(i: int) -> int:
        shown = client.call("GET", "/v1/banner", params=contexts[which[i]])
        if u[i] < ctr[which[i], shown["creative"]]:
            client.call("POST", "/v1/banner/click", json={"impression_id": shown["impression_id"]})
            return 1
        return 0

    with ThreadPoolExecutor(threads) as pool:
        clicks = sum(pool.map(visit, range(n)))
    return {"impressions": n, "clicks": int(clicks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--banners", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    client = Client(args.url, args.api_key)
    print(shoppers(client, args.sessions, args.seed))
    from models.bandits.banner_synth import make_banner_world

    contexts = [{"platform": "web", "slot": s, "location": "home"} for s in (1, 2)]
    world = make_banner_world(len(contexts), 8, args.seed)
    print(banner_visits(client, contexts, world.ctr, args.banners, args.seed))


if __name__ == "__main__":
    main()
