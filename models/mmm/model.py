"""Hierarchical marketing mix model fitted by MAP in PyTorch, with a Laplace approximation.

sales[s, w] = exp(log baseline[s, w]) + sum_c beta[s, c] * saturation(adstock_c(media[s, c, :])[w])

- log baseline: series level + distribution, trade spend, CPI, festival, Fourier
  seasonality, log price ratio (elasticity) and promotion flags;
- adstock over 16 weeks: geometric, decay_c = sigmoid(.) in (0, 1), or Weibull pdf (shape
  in (0.3, 5), scale in (0.5, 8) weeks: a delayed peak is possible);
- saturation: Hill with half-point between 0.2x and 3x the channel's median adstocked
  level (a sigmoid keeps it in the observed range) and slope in (0.5, 3), or logistic with
  the same half-point;
- media effects: beta[s, c] = exp(mu_c + sum over pooled levels l of sd_l * z_l[member_l(s), c]),
  non-negative and partially pooled: e.g. brand and geo deviations around a national effect,
  with N(0, 1) priors on the deviations (no deviations for one national series);
- optional ROI priors per channel (log-normal, from experiments or lift tests) on the ROI the
  parameters imply over the training weeks;
- likelihood: log-normal (multiplicative noise), sigma estimated.

The Laplace approximation uses the exact Hessian of the negative log posterior at the MAP
(a few hundred parameters), so every derived quantity (ROI, contributions, curves) gets an
interval by sampling parameters from N(MAP, H^-1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.common.threads import torch_threads
from models.mmm.spec import GEOINDIA, PERIODS_PER_YEAR, DataSpec
from models.mmm.transforms import fourier, saturate

MAX_LAG = 16
# Level deviations of media effects: about +/-20% (log scale), the prior's spread 0.3 in log(sd).
SD_PRIOR, SD_PRIOR_SCALE = 0.2, 0.3
# Hill slope in (0.5, 3) with its prior centred on 1 (a concave response, Meridian's default slope) and
# about 0.75-1.5 within one sd: a channel's data rarely pins the curve's shape, so the prior decides it.
SLOPE_LOGIT0, SLOPE_LOGIT_SD = float(np.log(0.2 / 0.8)), 0.5
# Control effects (standardised regressors) have N(0, 2^2) priors; a confounder's N(0, 10^2) barely shrinks it,
# so the model does not hand part of its effect to a channel that moves with it.
GAMMA_PREC, CONFOUNDER_PREC = 0.25, 0.01
ADSTOCKS = ("geometric", "weibull")
SATURATIONS = ("hill", "logistic")


@dataclass
class MmmData:
    """Arrays of a panel: series x periods (and x channels for media), as the data spec describes it."""

    y: np.ndarray            # (S, W) target: sales units (with a price) or sales value
    media: np.ndarray        # (S, C, W) media volume / scale
    scale: np.ndarray        # (C,) media scale (median non-zero volume)
    spend: np.ndarray        # (S, C, W) spend
    controls: np.ndarray     # (S, W, K) log-baseline regressors, standardised
    price: np.ndarray        # (S, W) price per unit (ones when the target is a value)
    groups: dict[str, np.ndarray]  # pooled level -> (S,) member index
    keys: pd.DataFrame       # hierarchy columns per series (no columns for one national series)
    weeks: pd.DatetimeIndex
    control_names: list[str]
    channels: list[str]
    confounder: np.ndarray   # (K,) bool: controls with the wide prior
    roi_prior: np.ndarray    # (C, 2) log-normal (mu, sigma) of each channel's ROI; NaN: none


def _control(df_grid: Any, ctl: Any) -> np.ndarray:
    x = df_grid(ctl.column)
    if ctl.transform == "log":
        return np.log(x / ctl.scale)
    if ctl.transform == "log1p":
        return np.log1p(x / ctl.scale)
    if ctl.transform == "log_ratio":
        return np.log(x / df_grid(ctl.over))
    return x


def _lognormal(mean: float, sd: float) -> tuple[float, float]:
    """(mu, sigma) of the log-normal with this mean and sd."""
    s2 = float(np.log1p((sd / mean) ** 2))
    return float(np.log(mean) - s2 / 2), float(np.sqrt(s2))


def panel(df: pd.DataFrame, spec: DataSpec = GEOINDIA) -> MmmData:
    """Pivot the rows (parsed by :func:`models.mmm.spec.parse`) into series x periods arrays."""
    hier = list(spec.hierarchy)
    df = df.sort_values([*hier, "week"], ignore_index=True)
    keys = df[hier].drop_duplicates(ignore_index=True) if hier else pd.DataFrame(index=pd.RangeIndex(1))
    weeks = pd.DatetimeIndex(df["week"].drop_duplicates().sort_values())
    S, W = len(keys), len(weeks)
    if len(df) != S * W:
        raise ValueError(f"the panel is not complete: {len(df)} rows for {S} series x {W} periods")

    def grid(col: str) -> np.ndarray:
        return df[col].to_numpy(np.float64).reshape(S, W)

    raw = np.stack([grid(ch.media_column) for ch in spec.channels], axis=1)
    spend = np.stack([grid(ch.spend) if ch.spend else grid(ch.volume) / 1000 * ch.cpm for ch in spec.channels], axis=1)
    scale = np.array([np.median(raw[:, c][raw[:, c] > 0]) for c in range(len(spec.channels))])
    f = fourier(W, spec.seasonality, PERIODS_PER_YEAR[spec.frequency])
    ctrl = {ctl.label: _control(grid, ctl) for ctl in spec.controls}
    ctrl.update({f"fourier_{i}": np.broadcast_to(f[:, i], (S, W)) for i in range(f.shape[1])})
    confounder = np.array([ctl.confounder for ctl in spec.controls] + [False] * f.shape[1], dtype=bool)
    controls = np.stack(list(ctrl.values()), axis=-1) if ctrl else np.zeros((S, W, 0))
    # Centred and scaled so the level and the control effects are not confounded (conditioning of the fit).
    centre, spread = controls.mean(axis=(0, 1)), controls.std(axis=(0, 1))
    controls = (controls - centre) / np.where(spread > 0, spread, 1.0)
    prior = np.array([_lognormal(*ch.roi_prior) if ch.roi_prior else (np.nan, np.nan) for ch in spec.channels])
    return MmmData(
        y=grid(spec.target),
        media=raw / scale[None, :, None],
        scale=scale,
        spend=spend,
        controls=controls,
        price=grid(spec.price) if spec.price else np.ones((S, W)),
        groups={col: keys[col].astype("category").cat.codes.to_numpy() for col in spec.pooled},
        keys=keys,
        weeks=weeks,
        control_names=list(ctrl),
        channels=spec.names,
        confounder=confounder,
        roi_prior=prior.reshape(len(spec.channels), 2),
    )


class MmmNet:
    """The model's parameters as one flat vector, and the forward pass on a week range."""

    def __init__(self, data: MmmData, adstock: str = "geometric", saturation: str = "hill") -> None:
        import torch

        if adstock not in ADSTOCKS or saturation not in SATURATIONS:
            raise ValueError(f"adstock must be one of {ADSTOCKS} and saturation one of {SATURATIONS}, "
                             f"got {adstock!r}, {saturation!r}")
        self.adstock, self.saturation = adstock, saturation

        S, C, _ = data.media.shape
        K = data.controls.shape[-1]
        self.levels = list(data.groups)
        # z_<level> deviations first, then their log sds: the layout the brand x geo model always had.
        self.shapes = {"level": (S,), "gamma": (K,), "mu": (C,),
                       **{f"z_{lv}": (int(data.groups[lv].max()) + 1, C) for lv in self.levels},
                       **{f"log_sd_{lv}": (1,) for lv in self.levels},
                       "decay": (C,), "shape": (C,), "half": (C,), "slope": (C,), "log_sigma": (1,)}
        sizes = [int(np.prod(s)) for s in self.shapes.values()]
        self.offsets = np.r_[0, np.cumsum(sizes)]
        self.n = int(self.offsets[-1])
        self.t = {k: torch.tensor(np.ascontiguousarray(v), dtype=torch.float64) for k, v in
                  {"y": data.y, "media": data.media, "controls": data.controls, "price": data.price,
                   "spend": data.spend}.items()}
        self.member = {lv: torch.as_tensor(data.groups[lv].astype(np.int64)) for lv in self.levels}
        self.gamma_prec = torch.as_tensor(np.where(data.confounder, CONFOUNDER_PREC, GAMMA_PREC))
        self.roi_prior = np.asarray(data.roi_prior)
        self.with_prior = np.flatnonzero(np.isfinite(self.roi_prior[:, 0]))
        med = np.array([np.median(_adstock_np(data.media[:, c], 0.5)) for c in range(C)])
        self.half_lo, self.half_hi = torch.as_tensor(0.2 * med), torch.as_tensor(3.0 * med)
        # Prior centre of a channel's log effect at saturation: 5% of mean weekly sales (sd 2 on the log scale).
        self.mu0 = float(np.log(0.05 * data.y.mean()))

    def init(self, data: MmmData) -> Any:
        import torch

        theta = torch.zeros(self.n, dtype=torch.float64)
        self.view(theta)["level"][:] = torch.as_tensor(np.log(data.y.mean(axis=1) + 1))
        self.view(theta)["mu"][:] = self.mu0
        for lv in self.levels:
            self.view(theta)[f"log_sd_{lv}"][:] = np.log(SD_PRIOR)
        self.view(theta)["log_sigma"][:] = np.log(0.1)
        return theta

    def view(self, theta: Any) -> dict[str, Any]:
        return {k: theta[self.offsets[i]:self.offsets[i + 1]].view(*s) for i, (k, s) in enumerate(self.shapes.items())}

    def natural(self, theta: Any) -> dict[str, Any]:
        """Constrained parameters: adstock weights (C, lags), half (C,, in scaled units), slope (C,),
        beta (S, C), log_base (S, W); plus decay (geometric) or Weibull shape and scale (weeks)."""
        import torch

        p = self.view(theta)
        lag = torch.arange(MAX_LAG, dtype=torch.float64)[None, :]
        if self.adstock == "geometric":
            decay = torch.sigmoid(p["decay"])
            adstock = {"decay": decay, "weights": decay[:, None] ** lag}
        else:  # Weibull pdf over lags 1..16: a delayed peak is possible; scale in (0.5, 8) weeks, shape in (0.3, 5)
            k, lam = 0.3 + 4.7 * torch.sigmoid(p["shape"]), 0.5 + 7.5 * torch.sigmoid(p["decay"])
            x = (lag + 1) / lam[:, None]
            adstock = {"shape": k, "scale": lam, "weights": x ** (k[:, None] - 1) * torch.exp(-(x ** k[:, None]))}
        adstock["weights"] = adstock["weights"] / adstock["weights"].sum(dim=1, keepdim=True)
        return {
            **adstock,
            "half": self.half_lo + (self.half_hi - self.half_lo) * torch.sigmoid(p["half"]),
            "slope": 0.5 + 2.5 * torch.sigmoid(p["slope"]),
            "beta": torch.exp(self._log_beta(p)),
            "log_base": p["level"][:, None] + self.t["controls"] @ p["gamma"],
        }

    def _log_beta(self, p: dict[str, Any]) -> Any:
        import torch

        log_beta = p["mu"][None, :]
        for lv in self.levels:
            log_beta = log_beta + torch.exp(p[f"log_sd_{lv}"]) * p[f"z_{lv}"][self.member[lv]]
        return log_beta.expand(len(self.t["y"]), -1)

    def components(self, theta: Any, weeks: slice = slice(None)) -> tuple[Any, Any]:
        """(log baseline (S, W), media contributions (S, C, W)) for the week range (adstock sees earlier weeks)."""
        import torch

        q = self.natural(theta)
        x = self.t["media"]
        w = q["weights"]
        ad = torch.zeros_like(x)
        W = x.shape[-1]
        for lag in range(min(MAX_LAG, W)):  # at most 16 lags, vectorised over series, channels, weeks
            ad[..., lag:] = ad[..., lag:] + w[None, :, lag, None] * x[..., : W - lag]
        contrib = q["beta"][:, :, None] * saturate(
            ad, q["half"][None, :, None], q["slope"][None, :, None], self.saturation
        )
        return q["log_base"][:, weeks], contrib[..., weeks]

    def neg_log_post(self, theta: Any, weeks: slice) -> Any:
        import torch

        p = self.view(theta)
        log_base, contrib = self.components(theta, weeks)
        mu = torch.exp(log_base) + contrib.sum(dim=1)
        sigma = torch.exp(p["log_sigma"])
        y = self.t["y"][:, weeks]
        resid = torch.log(y.clamp_min(1e-6)) - torch.log(mu)
        nll = (0.5 * (resid / sigma) ** 2).sum() + resid.numel() * torch.log(sigma).sum()
        z = sum(0.5 * p[f"z_{lv}"].pow(2).sum() for lv in self.levels)
        prior = (z + 0.5 * (p["gamma"].pow(2) * self.gamma_prec).sum()
                 + 0.5 * ((p["mu"] - self.mu0) ** 2).sum() / 4 + 0.5 * ((p["log_sigma"] - np.log(0.1)) ** 2).sum() / 4
                 + 0.5 * (p["decay"].pow(2).sum() + p["shape"].pow(2).sum() + p["half"].pow(2).sum())
                 + 0.5 * ((p["slope"] - SLOPE_LOGIT0) / SLOPE_LOGIT_SD).pow(2).sum())
        for lv in self.levels:
            prior = prior + 0.5 * ((p[f"log_sd_{lv}"] - np.log(SD_PRIOR)) ** 2).sum() / SD_PRIOR_SCALE ** 2
        if len(self.with_prior):
            prior = prior + self._roi_prior(contrib, weeks)
        return nll + prior

    def _roi_prior(self, contrib: Any, weeks: slice) -> Any:
        """Log-normal prior on each channel's ROI over the fitted weeks (value bought / spend)."""
        import torch

        c = self.with_prior
        value = (contrib[:, c] * self.t["price"][:, None, weeks]).sum(dim=(0, 2))
        spend = self.t["spend"][:, c, weeks].sum(dim=(0, 2))
        mu, sigma = (torch.as_tensor(self.roi_prior[c, i]) for i in (0, 1))
        return (0.5 * ((torch.log(value / spend) - mu) / sigma) ** 2).sum()


def _adstock_np(x: np.ndarray, decay: float) -> np.ndarray:
    from models.mmm.transforms import adstock, geometric_weights

    return adstock(x, geometric_weights(decay, MAX_LAG))


@dataclass
class MmmFit:
    net: MmmNet
    theta: np.ndarray
    cov: np.ndarray
    train_weeks: int
    loss_history: list[float]


def fit(data: MmmData, train_weeks: int, steps: int = 3000, lr: float = 0.05, seed: int = 0,
        log: Any = None, adstock: str = "geometric", saturation: str = "hill") -> MmmFit:
    """MAP by Adam then L-BFGS; the Laplace covariance from the exact Hessian. One torch thread (small
    tensors: see :func:`models.common.threads.torch_threads`)."""
    with torch_threads(1):
        return _fit(data, train_weeks, steps, lr, seed, log, adstock, saturation)


def _fit(data: MmmData, train_weeks: int, steps: int, lr: float, seed: int, log: Any, adstock: str,
         saturation: str) -> MmmFit:
    import torch

    torch.manual_seed(seed)
    net = MmmNet(data, adstock, saturation)
    theta = net.init(data).requires_grad_(True)
    weeks = slice(0, train_weeks)
    opt = torch.optim.Adam([theta], lr=lr)
    history = []
    for step in range(steps):
        opt.zero_grad()
        loss = net.neg_log_post(theta, weeks)
        loss.backward()
        opt.step()
        if step % 100 == 0:
            history.append(float(loss.detach()))
            if log is not None:
                log(step, float(loss.detach()))
    lbfgs = torch.optim.LBFGS([theta], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def closure() -> Any:
        lbfgs.zero_grad()
        loss = net.neg_log_post(theta, weeks)
        loss.backward()
        return loss

    lbfgs.step(closure)
    theta, h = _newton_polish(lambda th: net.neg_log_post(th, weeks), theta.detach(), log)
    history.append(float(net.neg_log_post(theta, weeks)))
    eig, vec = np.linalg.eigh(h)
    # Every parameter has a proper prior, so at the mode the Hessian is positive definite; the floor only
    # guards round-off (a negative eigenvalue would mean the mode was not reached, logged above).
    cov = (vec / np.maximum(eig, 1e-3)) @ vec.T
    return MmmFit(net, theta.numpy().copy(), cov, train_weeks, history)


def _newton_polish(loss: Any, theta: Any, log: Any, max_steps: int = 8) -> tuple[Any, np.ndarray]:
    """Damped Newton steps with the exact Hessian from L-BFGS's end point to the mode; (mode, Hessian)."""
    import torch

    def grad_hess(th: Any) -> tuple[np.ndarray, np.ndarray]:
        t = th.clone().requires_grad_(True)
        g = torch.autograd.grad(loss(t), t)[0].numpy()
        h = torch.autograd.functional.hessian(loss, th).numpy()
        return g, 0.5 * (h + h.T)

    g, h = grad_hess(theta)
    for _ in range(max_steps):
        if np.abs(g).max() < 1e-4:
            break
        eig, vec = np.linalg.eigh(h)
        step = -(vec / np.maximum(np.abs(eig), 1e-3)) @ (vec.T @ g)  # saddle directions flipped downhill
        f0, t = float(loss(theta)), 1.0
        while t > 1e-4 and float(loss(theta + t * torch.as_tensor(step))) > f0:
            t *= 0.5
        theta = theta + t * torch.as_tensor(step)
        g, h = grad_hess(theta)
    if np.abs(g).max() >= 1e-2 and log is not None:
        log(-1, float(np.abs(g).max()))
    return theta, h


def contributions(fitted: MmmFit, theta: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(baseline (S, W), media contributions (S, C, W)) in sales units for all weeks."""
    import torch

    th = torch.as_tensor(fitted.theta if theta is None else theta, dtype=torch.float64)
    with torch.no_grad():
        log_base, contrib = fitted.net.components(th)
    return np.exp(log_base.numpy()), contrib.numpy()


def channel_spend(data: MmmData) -> np.ndarray:
    """Spend per channel over all periods."""
    return data.spend.sum(axis=(0, 2))


def roi_samples(fitted: MmmFit, data: MmmData, n: int, seed: int) -> pd.DataFrame:
    """ROI per channel (value of contributed sales / spend) for MAP and ``n`` Laplace draws."""
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(fitted.theta, fitted.cov, size=n, method="eigh")
    spend = channel_spend(data)
    rows = []
    with torch_threads(1):
        for i, th in enumerate([fitted.theta, *draws]):
            _, contrib = contributions(fitted, th)
            value = (contrib * data.price[:, None, :]).sum(axis=(0, 2))
            rows.append({"draw": i - 1, **dict(zip(data.channels, value / spend))})
    return pd.DataFrame(rows)
