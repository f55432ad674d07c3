"""Synthetic Avazu click logs with a known click model.

The output has exactly the schema and formats of Kaggle's ``avazu-ctr-prediction``
``train.csv``: 24 columns, decimal uint64 ids (up to 20 digits), 8-hex-digit hashed
categorical strings, ``hour`` as YYMMDDHH over 10 days starting 2014-10-21, and the
integer columns C1, banner_pos, device_type, device_conn_type, C14-C21.

Click model (logit of the true click probability of one impression)::

    logit p = b0
            + pub[site_id or app_id]          publisher effect; the long tail shrinks
            + cat[category]                   towards its category (sd scales with traffic)
            + cat_hour[category] * cos(2 pi (hour - phase[category]) / 24)
            + ad[C17] + creative[C14]         ad group and creative nested in it
            + ad_dev[C17, device_type]        ad group x device type interaction
            + model[device_model]
            + pos[banner_pos] + pos_conn[banner_pos, device_conn_type]
            + dtype[device_type] + conn[device_conn_type]
            + tod * sin(2 pi (hour - 14) / 24) + dow[day_of_week]
            - ip_slope * log(BUSY_IPS / (rank of a busy device_ip + 1))   busy shared IPs click less
            + c20_unknown * [C20 == -1]

``b0`` is solved so that the mean click rate equals ``target_ctr`` (17% by default,
as in the real data). Category frequencies are Zipf-like (heavy-tailed) as in Avazu:
a handful of sites, apps, device models and IPs carry most of the traffic. The true
probability of each row is returned separately so it can be written to a ground-truth
file that no model reads; with the default scale the oracle AUC is about 0.78, where
good real Avazu models sit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from models.common.streams import stream

AVAZU_COLUMNS: tuple[str, ...] = (
    "id", "click", "hour", "C1", "banner_pos", "site_id", "site_domain", "site_category",
    "app_id", "app_domain", "app_category", "device_id", "device_ip", "device_model",
    "device_type", "device_conn_type", "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21",
)
HASHED_COLUMNS: tuple[str, ...] = (
    "site_id", "site_domain", "site_category", "app_id", "app_domain", "app_category",
    "device_id", "device_ip", "device_model",
)

RAW_SCHEMA = pa.schema(
    [("id", pa.string()), ("click", pa.int8()), ("hour", pa.int64())]
    + [(c, pa.string() if c in HASHED_COLUMNS else pa.int32()) for c in AVAZU_COLUMNS[3:]]
)
"""Arrow types of Avazu's columns: ids stay strings (they overflow int64)."""

# Placeholders Avazu uses for "no site" (app traffic) and "no app" (site traffic),
# and the one device_id that most rows share.
NO_SITE = ("85f751fd", "c4e18dd6", "50e219e0")
NO_APP = ("ecad2386", "7801e8d9", "07d7df22")
COMMON_DEVICE_ID = "a99f214a"
BUSY_IPS = 2000


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the synthetic click model.

    Attributes:
        seed: master seed; the same seed gives the same rows byte for byte.
        n_days: days covered by ``hour`` (Avazu's train set spans 10).
        target_ctr: mean click rate; 0.17 as in the real data.
        n_sites, n_apps, n_models, n_ad_groups, n_creatives: vocabulary sizes.
        busy_ip_share: share of impressions from busy shared IPs; the rest are rare IPs.
        zipf: exponent of the heavy-tailed id frequencies (> 1).
        effect_scale: multiplies every effect; the default 1.3 gives an oracle AUC near 0.78.
    """

    seed: int = 7
    n_days: int = 10
    target_ctr: float = 0.17
    n_sites: int = 3000
    n_apps: int = 5000
    n_categories: int = 24
    n_models: int = 6000
    n_ad_groups: int = 400
    n_creatives: int = 2500
    busy_ip_share: float = 0.35
    zipf: float = 1.15
    effect_scale: float = 1.3

    def __post_init__(self) -> None:
        if not 0.0 < self.target_ctr < 1.0:
            raise ValueError(f"target_ctr must be in (0, 1), got {self.target_ctr}")
        if not 1 <= self.n_days <= 31:
            raise ValueError(f"n_days must be in [1, 31], got {self.n_days}")
        if self.zipf <= 1.0:
            raise ValueError(f"zipf must be > 1, got {self.zipf}")
        if self.effect_scale < 0:
            raise ValueError(f"effect_scale must be >= 0, got {self.effect_scale}")


def _hex8(rng: np.random.Generator, n: int, exclude: frozenset[str] | set[str] = frozenset()) -> np.ndarray:
    """``n`` distinct 8-hex-digit strings, like Avazu's hashed values."""
    vals = np.unique(rng.integers(0, 2**32, size=int(n * 1.05) + 16, dtype=np.uint64))
    rng.shuffle(vals)
    raw = vals.astype(">u4").tobytes().hex().encode()
    out = np.frombuffer(raw, dtype="S8").astype(str)
    if exclude:
        out = out[~np.isin(out, list(exclude))]
    return out[:n]


def _zipf_probs(n: int, a: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** a
    return w / w.sum()


@dataclass
class SynthWorld:
    """Every entity of the synthetic market and its true effect (drawn once per seed)."""

    cfg: SynthConfig
    site_hex: np.ndarray = field(repr=False)
    site_domain: np.ndarray = field(repr=False)
    site_cat: np.ndarray = field(repr=False)
    app_hex: np.ndarray = field(repr=False)
    app_domain: np.ndarray = field(repr=False)
    app_cat: np.ndarray = field(repr=False)
    cat_hex: np.ndarray = field(repr=False)
    model_hex: np.ndarray = field(repr=False)
    site_p: np.ndarray = field(repr=False)
    app_p: np.ndarray = field(repr=False)
    model_p: np.ndarray = field(repr=False)
    ad_p: np.ndarray = field(repr=False)
    ad_attrs: dict[str, np.ndarray] = field(repr=False)
    creative_ad: np.ndarray = field(repr=False)
    creative_code: np.ndarray = field(repr=False)
    effects: dict[str, np.ndarray] = field(repr=False)
    b0: float = 0.0

    @functools.cached_property
    def draw_tables(self) -> dict[str, np.ndarray]:
        """What every impression draw from this world reuses: its entities' cdfs (:func:`_pick`) and its creatives
        grouped by ad group. An RL env draws an inventory at every reset; rebuilding these was part of each."""
        return {"site": _cdf(self.site_p), "app": _cdf(self.app_p), "ad": _cdf(self.ad_p),
                "model": _cdf(self.model_p), "creatives_sorted": np.sort(self.creative_ad),
                "creative_order": np.argsort(self.creative_ad, kind="stable"),
                "creative_counts": np.bincount(self.creative_ad, minlength=self.cfg.n_ad_groups)}


def _tail_shrunk(rng: np.random.Generator, probs: np.ndarray, sd: float) -> np.ndarray:
    """Entity effects whose spread grows with traffic: the long tail stays near zero."""
    weight = np.minimum(1.0, np.sqrt(probs / probs[min(len(probs) - 1, 50)]))
    return rng.normal(0.0, sd, size=len(probs)) * weight


def build_world(cfg: SynthConfig) -> SynthWorld:
    """Draw vocabularies, traffic shares and true effects for ``cfg.seed``."""
    rng = np.random.default_rng(cfg.seed)
    s = cfg.effect_scale
    reserved = set(NO_SITE) | set(NO_APP) | {COMMON_DEVICE_ID}
    cat_hex = _hex8(rng, cfg.n_categories, reserved)
    site_hex = _hex8(rng, cfg.n_sites, reserved)
    app_hex = _hex8(rng, cfg.n_apps, reserved)
    # Several ids share a domain, as on the real data.
    site_domain = _hex8(rng, cfg.n_sites // 2, reserved)[rng.integers(0, cfg.n_sites // 2, cfg.n_sites)]
    app_domain = _hex8(rng, cfg.n_apps // 3, reserved)[rng.integers(0, cfg.n_apps // 3, cfg.n_apps)]
    cat_p = _zipf_probs(cfg.n_categories, 1.3)
    site_cat = rng.choice(cfg.n_categories, size=cfg.n_sites, p=cat_p)
    app_cat = rng.choice(cfg.n_categories, size=cfg.n_apps, p=cat_p)
    site_p = _zipf_probs(cfg.n_sites, cfg.zipf)
    app_p = _zipf_probs(cfg.n_apps, cfg.zipf)
    model_p = _zipf_probs(cfg.n_models, cfg.zipf - 0.1)
    ad_p = _zipf_probs(cfg.n_ad_groups, 0.9)
    model_hex = _hex8(rng, cfg.n_models, reserved)

    sizes = np.array([[320, 50], [300, 250], [216, 36], [728, 90], [120, 20], [1024, 768], [480, 320], [768, 1024]])
    size_idx = rng.choice(len(sizes), size=cfg.n_ad_groups, p=[0.9, 0.05, 0.02, 0.01, 0.005, 0.005, 0.005, 0.005])
    ad_attrs = {
        "C17": np.sort(rng.choice(np.arange(100, 2800), size=cfg.n_ad_groups, replace=False)),
        "C15": sizes[size_idx, 0],
        "C16": sizes[size_idx, 1],
        "C18": rng.choice([0, 1, 2, 3], size=cfg.n_ad_groups, p=[0.42, 0.05, 0.1, 0.43]),
        "C19": rng.choice([35, 39, 167, 161, 47, 33, 427, 431, 1063, 1327], size=cfg.n_ad_groups),
        "C21": rng.choice(np.array([79, 23, 221, 61, 157, 32, 52, 33, 51, 71, 42, 13, 15, 17]), size=cfg.n_ad_groups),
    }
    creative_ad = rng.choice(cfg.n_ad_groups, size=cfg.n_creatives, p=ad_p)
    creative_ad[: cfg.n_ad_groups] = np.arange(cfg.n_ad_groups)  # every group has a creative
    creative_code = np.sort(rng.choice(np.arange(375, 24100), size=cfg.n_creatives, replace=False))

    effects = {
        "site": _tail_shrunk(rng, site_p, 0.55 * s),
        "app": _tail_shrunk(rng, app_p, 0.65 * s),
        "cat": rng.normal(0.0, 0.35 * s, cfg.n_categories),
        "cat_hour_amp": rng.uniform(0.0, 0.45 * s, cfg.n_categories),
        "cat_hour_phase": rng.uniform(0.0, 24.0, cfg.n_categories),
        "ad": rng.normal(0.0, 0.45 * s, cfg.n_ad_groups),
        "creative": rng.normal(0.0, 0.15 * s, cfg.n_creatives),
        "ad_dev": rng.normal(0.0, 0.35 * s, (cfg.n_ad_groups, 6)),
        "model": _tail_shrunk(rng, model_p, 0.3 * s),
        "pos": np.array([0.0, 0.12, -0.2, 0.1, 0.3, 0.35, 0.0, 0.55]) * s,
        "pos_conn": rng.normal(0.0, 0.25 * s, (8, 6)),
        "dtype": np.array([0.35, 0.0, -0.6, 0.0, -0.5, -0.3]) * s,
        "conn": np.array([0.0, 0.0, -0.25, -0.45, 0.0, 0.2]) * s,
        "dow": rng.normal(0.0, 0.06 * s, 7),
        "tod": np.array([0.18 * s]),
        "ip_slope": np.array([0.12 * s]),
        "c20_unknown": np.array([0.2 * s]),
    }
    world = SynthWorld(
        cfg=cfg, site_hex=site_hex, site_domain=site_domain, site_cat=site_cat,
        app_hex=app_hex, app_domain=app_domain, app_cat=app_cat, cat_hex=cat_hex,
        model_hex=model_hex, site_p=site_p, app_p=app_p, model_p=model_p, ad_p=ad_p,
        ad_attrs=ad_attrs, creative_ad=creative_ad, creative_code=creative_code, effects=effects,
    )
    # Solve the intercept on a fixed calibration draw so the mean CTR hits the target.
    logit, _ = _draw_logits(world, 200_000, stream(cfg.seed, "avazu.calibration"))
    lo, hi = -8.0, 4.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if (1.0 / (1.0 + np.exp(-(logit + mid)))).mean() < cfg.target_ctr:
            lo = mid
        else:
            hi = mid
    world.b0 = (lo + hi) / 2
    return world


Cdf = tuple[np.ndarray, np.ndarray]  # a distribution's cumulative probabilities and their guide table


def _cdf(p: np.ndarray | list[float]) -> Cdf:
    """The cumulative distribution ``Generator.choice`` builds from ``p`` on every call (cumsum, then divided by
    its last value), built once, with a guide table for :func:`_pick`: ``guide[b]`` counts the entries <= b / m
    (m = 2 x len(p)), where the search for a draw in bucket b starts."""
    cdf = np.asarray(p, dtype=np.float64).cumsum()
    cdf /= cdf[-1]
    m = 2 * len(cdf)
    return cdf, cdf.searchsorted(np.arange(m) / m, side="right")


def _pick(rng: np.random.Generator, dist: Cdf, n: int) -> np.ndarray:
    """``rng.choice(len(p), size=n, p=p)`` for the ``p`` of ``dist``: the same indices from the same uniform draws
    (the generator ends in the same state). Found through the guide table in a step or two per draw instead of a
    binary search over thousands of entries (``searchsorted`` on random keys was most of an RL env's reset)."""
    cdf, guide = dist
    out = np.empty(n, dtype=np.int64)
    _inverse_cdf(cdf, guide, rng.random(n), out)
    return out


@njit(cache=True, nogil=True)
def _inverse_cdf(cdf: np.ndarray, guide: np.ndarray, u: np.ndarray,
                 out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[i]`` = the number of ``cdf`` entries <= ``u[i]`` (``searchsorted(side="right")``), searched from the
    guide table's start for the bucket of ``u[i]``: forward past entries <= u, back past entries > u (a bucket
    edge that rounded above u), so the answer is exact whatever the rounding."""
    m, k = len(guide), len(cdf)
    for i in range(len(u)):
        x = u[i]
        j = guide[min(int(x * m), m - 1)]
        while j < k and cdf[j] <= x:
            j += 1
        while j > 0 and cdf[j - 1] > x:
            j -= 1
        out[i] = j


def _pick_value(rng: np.random.Generator, table: tuple[np.ndarray, Cdf], n: int) -> np.ndarray:
    """``rng.choice(values, size=n, p=p)`` for a ``(values, _cdf(p))`` table below."""
    values, dist = table
    return values[_pick(rng, dist, n)]


# The fixed distributions of the impression fields that are not entities of the world: values and their cdfs.
_HOD_CDF = _cdf((w := 1.0 + 0.6 * np.sin(2 * np.pi * (np.arange(24) - 8) / 24)) / w.sum())  # diurnal traffic
_BANNER_POS = np.array([0, 1, 2, 3, 4, 5, 7]), _cdf([0.72, 0.265, 0.004, 0.001, 0.002, 0.002, 0.006])
_DEVICE_TYPE = np.array([1, 0, 4, 5, 2]), _cdf([0.92, 0.055, 0.019, 0.005, 0.001])
_CONN_TYPE = np.array([0, 2, 3, 5]), _cdf([0.86, 0.08, 0.055, 0.005])
_C1 = np.array([1005, 1010, 1012, 1007, 1001, 1008]), _cdf([0.975, 0.016, 0.004, 0.003, 0.001, 0.001])
_BUSY_IP_CDF = _cdf(_zipf_probs(BUSY_IPS, 1.1))


def _draw_logits(world: SynthWorld, n: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The first draws of ``n`` impressions: logit(p) without b0, and the drawn fields it came from."""
    cfg, e, tables = world.cfg, world.effects, world.draw_tables
    day = rng.integers(0, cfg.n_days, n)
    hod = _pick(rng, _HOD_CDF, n)  # diurnal traffic: more impressions in the day than at night
    dow = (day + 1) % 7  # 2014-10-21 was a Tuesday (Monday = 0)

    is_app = rng.random(n) < 0.36
    site = _pick(rng, tables["site"], n)
    app = _pick(rng, tables["app"], n)
    cat = np.where(is_app, world.app_cat[app], world.site_cat[site])
    pub = np.where(is_app, e["app"][app], e["site"][site])

    # Ad groups get Zipf-like traffic; a creative is drawn uniformly inside its group.
    ad = _pick(rng, tables["ad"], n)
    ad_creatives_first = np.searchsorted(tables["creatives_sorted"], ad)  # any creative of the group
    creative = tables["creative_order"][ad_creatives_first
                                        + (rng.random(n) * tables["creative_counts"][ad]).astype(np.int64)]

    model = _pick(rng, tables["model"], n)
    banner_pos = _pick_value(rng, _BANNER_POS, n)
    dtype = _pick_value(rng, _DEVICE_TYPE, n)
    conn = _pick_value(rng, _CONN_TYPE, n)
    c1 = np.where(dtype == 0, 1002, _pick_value(rng, _C1, n))
    # A share of traffic comes from busy shared IPs (Zipf over BUSY_IPS); the rest from
    # IPs seen about once. Busier IPs click less, which only their counts reveal.
    busy = rng.random(n) < cfg.busy_ip_share
    ip_rank = np.where(busy, _pick(rng, _BUSY_IP_CDF, n), -1)
    c20_unknown = rng.random(n) < 0.47

    logit = (
        pub + e["cat"][cat]
        + e["cat_hour_amp"][cat] * np.cos(2 * np.pi * (hod - e["cat_hour_phase"][cat]) / 24)
        + e["ad"][ad] + e["creative"][creative] + e["ad_dev"][ad, dtype]
        + e["model"][model] + e["pos"][banner_pos] + e["pos_conn"][banner_pos, conn]
        + e["dtype"][dtype] + e["conn"][conn]
        + e["tod"][0] * np.sin(2 * np.pi * (hod - 14) / 24) + e["dow"][dow]
        - e["ip_slope"][0] * np.where(busy, np.log(BUSY_IPS / (np.maximum(ip_rank, 0) + 1.0)), 0.0)
        + e["c20_unknown"][0] * c20_unknown
    )
    fields = {"day": day, "hod": hod, "is_app": is_app, "site": site, "app": app, "cat": cat, "ad": ad,
              "creative": creative, "model": model, "banner_pos": banner_pos, "dtype": dtype, "conn": conn,
              "c1": c1, "busy": busy, "ip_rank": ip_rank, "c20_unknown": c20_unknown}
    return logit, fields


def draw_ctr(world: SynthWorld, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The true CTR and hour of day of ``n`` impressions, as :func:`draw_impressions` draws them from the same
    ``rng``, without building the Avazu table (a market with no CTR model needs only these: the table's hex
    ids took most of an RL env's reset)."""
    logit, f = _draw_logits(world, n, rng)
    return 1.0 / (1.0 + np.exp(-(logit + world.b0))), f["hod"]


def draw_impressions(world: SynthWorld, n: int, rng: np.random.Generator,
                     row_offset: int) -> tuple[pa.Table, np.ndarray]:
    """Draw ``n`` impressions; returns the Avazu table and the true click probability of each."""
    cfg = world.cfg
    logit, f = _draw_logits(world, n, rng)
    day, hod, is_app, site, app, cat = f["day"], f["hod"], f["is_app"], f["site"], f["app"], f["cat"]
    ad, creative, model, banner_pos, dtype, conn = f["ad"], f["creative"], f["model"], f["banner_pos"], \
        f["dtype"], f["conn"]
    c1, busy, ip_rank, c20_unknown = f["c1"], f["busy"], f["ip_rank"], f["c20_unknown"]
    p = 1.0 / (1.0 + np.exp(-(logit + world.b0)))
    click = (rng.random(n) < p).astype(np.int8)
    ids = rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)
    hour = (141021 + day) * 100 + hod  # YYMMDDHH, days stay inside October
    busy_vocab = _hex8(stream(cfg.seed, "avazu.busy_ips"), BUSY_IPS)
    tail_ip = _hex8(stream(cfg.seed, "avazu.tail_ip", row_offset), n, set(busy_vocab))
    device_ip = np.where(busy, busy_vocab[np.maximum(ip_rank, 0)], tail_ip)
    dev_id_tail = _hex8(stream(cfg.seed, "avazu.device_ids", row_offset), n, {COMMON_DEVICE_ID})
    device_id = np.where(rng.random(n) < 0.82, COMMON_DEVICE_ID, dev_id_tail)

    def cols(values: np.ndarray, placeholder: str, mask: np.ndarray) -> pa.Array:
        return pa.array(np.where(mask, placeholder, values))

    c20 = np.where(c20_unknown, -1, 100000 + rng.integers(0, 249, n))
    table = pa.table({
        "id": pc.cast(pa.array(ids), pa.string()),
        "click": click,
        "hour": hour.astype(np.int64),
        "C1": c1.astype(np.int32),
        "banner_pos": banner_pos.astype(np.int32),
        "site_id": cols(world.site_hex[site], NO_SITE[0], is_app),
        "site_domain": cols(world.site_domain[site], NO_SITE[1], is_app),
        "site_category": cols(world.cat_hex[cat], NO_SITE[2], is_app),
        "app_id": cols(world.app_hex[app], NO_APP[0], ~is_app),
        "app_domain": cols(world.app_domain[app], NO_APP[1], ~is_app),
        "app_category": cols(world.cat_hex[cat], NO_APP[2], ~is_app),
        "device_id": pa.array(device_id),
        "device_ip": pa.array(device_ip),
        "device_model": pa.array(world.model_hex[model]),
        "device_type": dtype.astype(np.int32),
        "device_conn_type": conn.astype(np.int32),
        "C14": world.creative_code[creative].astype(np.int32),
        "C15": world.ad_attrs["C15"][ad].astype(np.int32),
        "C16": world.ad_attrs["C16"][ad].astype(np.int32),
        "C17": world.ad_attrs["C17"][ad].astype(np.int32),
        "C18": world.ad_attrs["C18"][ad].astype(np.int32),
        "C19": world.ad_attrs["C19"][ad].astype(np.int32),
        "C20": c20.astype(np.int32),
        "C21": world.ad_attrs["C21"][ad].astype(np.int32),
    })
    return table.cast(RAW_SCHEMA), p


def generate_chunks(cfg: SynthConfig, n_rows: int, chunk_rows: int = 500_000):
    """Yield ``(table, true_p)`` chunks that together hold ``n_rows`` impressions.

    Memory stays bounded by ``chunk_rows``; every chunk has its own seeded stream so the
    output does not depend on how it is consumed.
    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1, got {n_rows}")
    world = build_world(cfg)
    done = 0
    while done < n_rows:
        n = min(chunk_rows, n_rows - done)
        table, p = draw_impressions(world, n, stream(cfg.seed, "avazu.impressions", done), row_offset=done)
        yield table, p
        done += n
