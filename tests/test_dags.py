"""DAG integrity, and avazu_ctr end to end with `airflow dags test` on a real Airflow + MLflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DAGS = sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))
HEAVY = ("pyspark", "torch", "lightgbm", "xgboost", "pandas", "mlflow", "great_expectations", "sklearn", "ray")

PROBE = r"""
import importlib.util, json, sys, time
import airflow.sdk  # baseline: what Airflow itself loads
sys.path.insert(0, sys.argv[1].rsplit("/", 1)[0])  # Airflow puts the dags folder on sys.path (for _common)
before = set(sys.modules)
out = {}
for path in sys.argv[1:]:
    t0 = time.perf_counter()
    spec = importlib.util.spec_from_file_location("dag_" + path.rsplit("/", 1)[-1][:-3], path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    added = sorted({m.split(".")[0] for m in set(sys.modules) - before})
    out[path] = {"seconds": time.perf_counter() - t0, "added": added}
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(sys.argv[1].rsplit("/", 1)[0])
out["_bag"] = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": sorted(bag.dags)}
print(json.dumps(out))
"""


def airflow_env(home: Path, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KAGGLE", "MLFLOW_TRACKING"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PLATFORM_DATA_DIR": str(data / "data"),
        "PLATFORM_MLFLOW_DIR": str(data / "mlflow"),
        "KAGGLE_CONFIG_DIR": str(data / "no-kaggle"),
        "GX_ANALYTICS_ENABLED": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    })
    return env


@pytest.mark.slow  # an Airflow subprocess
def test_dag_files_import_fast_without_heavy_modules(tmp_path: Path) -> None:
    env = airflow_env(tmp_path / "af", tmp_path)
    res = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, DAGS)], env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out.pop("_bag") == {
        "errors": {},
        "dags": [
            "avazu_ctr",
            "banner_bandit_eval",
            "budget_bandits",
            "market_nightly",
            "market_rl_training",
            "mmm",
            "pricing_models",
        ],
    }
    for path, info in out.items():
        assert info["seconds"] < 1.0, f"{path} took {info['seconds']:.2f} s to parse"
        heavy = [m for m in info["added"] if m in HEAVY]
        assert not heavy, f"{path} imports {heavy} at top level"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    root = tmp_path_factory.mktemp("stack")
    env = airflow_env(root / "airflow", root)
    res = subprocess.run(["airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return env, root


def dags_test(env: dict[str, str], conf: dict, dag_id: str = "avazu_ctr") -> subprocess.CompletedProcess:
    return subprocess.run(["airflow", "dags", "test", dag_id, "-c", json.dumps(conf)],
                          env=env, capture_output=True, text=True, timeout=600)


def mlflow_client(root: Path):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    return mlflow.MlflowClient()


@pytest.fixture(scope="module")
def ctr_champion(stack: tuple[dict[str, str], Path]) -> subprocess.CompletedProcess:
    """`airflow dags test avazu_ctr` (smoke) once: the champion the later DAG tests build on."""
    env, _ = stack
    return dags_test(env, {"profile": "smoke"})


@pytest.fixture(scope="module")
def pricing_champions(stack: tuple[dict[str, str], Path]) -> subprocess.CompletedProcess:
    """`airflow dags test pricing_models` (smoke, small) once: agent_classifier and the pricing models."""
    env, _ = stack
    return dags_test(env, {"profile": "smoke", "n_sessions": 2500, "xgb_rounds": 150, "mt_epochs": 5},
                     "pricing_models")


@pytest.fixture(scope="module")
def learned_policies(stack: tuple[dict[str, str], Path]) -> subprocess.CompletedProcess:
    """`airflow dags test market_rl_training` (smoke: one iteration per curriculum stage) once."""
    env, _ = stack
    return dags_test(env, {"profile": "smoke"}, "market_rl_training")


@pytest.mark.slow
def test_dags_test_registers_a_champion(stack: tuple[dict[str, str], Path], ctr_champion) -> None:
    env, root = stack
    res = ctr_champion
    assert res.returncode == 0, (res.stdout + res.stderr)[-5000:]
    client = mlflow_client(root)
    versions = client.search_model_versions("name = 'ctr_lightgbm'")
    assert [str(v.version) for v in versions] == ["1"]
    champ = client.get_model_version_by_alias("ctr_lightgbm", "champion")
    assert (
        str(champ.version) == "1" and float(champ.tags["holdout_auc"]) > 0.6 and float(champ.tags["oracle_auc"]) > 0.7
    )
    exp = client.get_experiment_by_name("avazu_ctr")
    parents = client.search_runs([exp.experiment_id], "tags.`platform.role` = 'dag_run'")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    tasks = client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}'")
    assert {t.data.tags["airflow.task_id"] for t in tasks} == {
        "ingest", "sample", "validate_raw", "features", "validate_features", "train", "evaluate_and_promote"}
    train = next(t for t in tasks if t.data.tags["airflow.task_id"] == "train")
    assert {"holdout_auc", "holdout_logloss", "best_iteration"} <= set(train.data.metrics)
    arts = {a.path for a in client.list_artifacts(train.info.run_id, "importance")}
    assert {"importance/feature_importance.png", "importance/feature_importance.csv"} <= arts
    assert (root / "data" / "avazu_ctr" / "features" / "current").is_symlink()


@pytest.mark.slow
def test_bad_input_fails_the_run_and_keeps_the_champion(stack: tuple[dict[str, str], Path], synthetic_csv,
                                                        ctr_champion) -> None:
    env, root = stack
    assert ctr_champion.returncode == 0, (ctr_champion.stdout + ctr_champion.stderr)[-3000:]
    link = root / "data" / "avazu_ctr" / "features" / "current"
    published = os.readlink(link)
    lines = Path(synthetic_csv[0]).read_text().splitlines()[:3001]
    lines[7] = lines[7].replace(",0,14", ",3,14", 1).replace(",1,14", ",3,14", 1)  # click = 3
    bad = root / "bad_clicks.csv"
    bad.write_text("\n".join(lines) + "\n")
    res = dags_test(env, {"profile": "smoke", "source": "local", "local_path": str(bad)})
    assert res.returncode != 0
    assert "expect_column_values_to_be_in_set column 'click'" in res.stdout + res.stderr
    client = mlflow_client(root)
    assert [str(v.version) for v in client.search_model_versions("name = 'ctr_lightgbm'")] == ["1"]
    assert str(client.get_model_version_by_alias("ctr_lightgbm", "champion").version) == "1"
    assert os.readlink(link) == published  # the published features did not move
    exp = client.get_experiment_by_name("avazu_ctr")
    failed = client.search_runs(
        [exp.experiment_id], "tags.`platform.role` = 'dag_run' and attributes.status = 'FAILED'"
    )
    assert len(failed) == 1
    # The failure callback says what kind of failure it was: a rejected file, not a defect.
    assert failed[0].data.tags["failure.kind"] == "bad_input"
    assert "click" in failed[0].data.tags["failure.message"]


def _dag_runs(root: Path, experiment: str, status: str) -> list:
    client = mlflow_client(root)
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs(
        [exp.experiment_id], f"tags.`platform.role` = 'dag_run' and attributes.status = '{status}'"
    )


@pytest.mark.slow
def test_budget_bandits_dags_test_then_bad_facts(stack: tuple[dict[str, str], Path]) -> None:
    import pandas as pd

    env, root = stack
    res = dags_test(env, {"profile": "smoke"}, "budget_bandits")
    assert res.returncode == 0, (res.stdout + res.stderr)[-5000:]
    (parent,) = _dag_runs(root, "budget_bandits", "FINISHED")
    client = mlflow_client(root)
    tasks = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert {t.data.tags["airflow.task_id"] for t in tasks} == {
        "ingest_facts", "validate_facts", "allocate", "simulate", "insights"}
    sim = next(t for t in tasks if t.data.tags["airflow.task_id"] == "simulate")
    assert sim.data.metrics["thompson.regret"] < sim.data.metrics["uniform.regret"]
    assert {"simulation/regret.png", "simulation/allocation.png"} <= {
        a.path for a in client.list_artifacts(sim.info.run_id, "simulation")
    }
    link = root / "data" / "budget_bandits" / "plan" / "current"
    published = os.readlink(link)
    facts = pd.read_parquet(next((root / "data" / "budget_bandits" / "runs").glob("*/facts/facts.parquet")))
    bad = root / "dup_facts.csv"
    pd.concat([facts, facts.iloc[[3]]]).to_csv(bad, index=False)
    res = dags_test(env, {"profile": "smoke", "source": "local", "local_path": str(bad)}, "budget_bandits")
    assert res.returncode != 0
    assert "expect_compound_columns_to_be_unique" in res.stdout + res.stderr
    assert os.readlink(link) == published
    assert len(_dag_runs(root, "budget_bandits", "FAILED")) == 1


@pytest.mark.slow
def test_banner_bandit_eval_dags_test(stack: tuple[dict[str, str], Path]) -> None:
    env, root = stack
    res = dags_test(env, {"profile": "smoke"}, "banner_bandit_eval")
    assert res.returncode == 0, (res.stdout + res.stderr)[-5000:]
    (parent,) = _dag_runs(root, "banner_bandit_eval", "FINISHED")
    client = mlflow_client(root)
    tasks = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    ev = next(t for t in tasks if t.data.tags["airflow.task_id"] == "evaluate")
    arts = {a.path for a in client.list_artifacts(ev.info.run_id, "ope")}
    assert {"ope/ope_results.csv", "ope/ope_report.md", "ope/ope_synthetic.png"} <= arts
    assert any(k.startswith("synthetic.production.uniform.dr") for k in ev.data.metrics)


@pytest.mark.slow
def test_pricing_models_dags_test(stack: tuple[dict[str, str], Path], pricing_champions) -> None:
    env, root = stack
    res = pricing_champions
    assert res.returncode == 0, (res.stdout + res.stderr)[-5000:]
    (parent,) = _dag_runs(root, "pricing_models", "FINISHED")
    client = mlflow_client(root)
    for name in ("agent_classifier", "pricing_multitask", "pricing_rules"):
        assert str(client.get_model_version_by_alias(name, "champion").version) == "1", name
    tasks = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert {t.data.tags["airflow.task_id"] for t in tasks} == {
        "ingest_events", "validate_events", "session_features", "validate_features", "train_agent_classifier",
        "train_multitask", "distill", "evaluate_and_promote"}


@pytest.mark.slow
def test_mmm_dags_test_then_bad_data_keeps_the_champion(stack: tuple[dict[str, str], Path]) -> None:
    import pandas as pd

    env, root = stack
    res = dags_test(env, {"profile": "smoke", "source": "synthetic"}, "mmm")
    assert res.returncode == 0, (res.stdout + res.stderr)[-5000:]
    (parent,) = _dag_runs(root, "mmm", "FINISHED")
    client = mlflow_client(root)
    tasks = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert {t.data.tags["airflow.task_id"] for t in tasks} == {
        "ingest", "validate", "fit", "evaluate", "curves", "optimise", "report"}
    ev = next(t for t in tasks if t.data.tags["airflow.task_id"] == "evaluate")
    assert ev.data.metrics["holdout_brand_national_r2"] > 0.5 and "recovery_coverage" in ev.data.metrics
    arts = {a.path for a in client.list_artifacts(ev.info.run_id, "evaluate")}
    assert {"evaluate/waterfall.png", "evaluate/roi.png", "evaluate/holdout_metrics.csv"} <= arts
    assert str(client.get_model_version_by_alias("mmm", "champion").version) == "1"
    weekly = pd.read_parquet(next((root / "data" / "mmm" / "runs").glob("*/data/weekly.parquet")))
    bad = weekly.rename(columns={"week": "Week"})
    bad.loc[5, "Net_Price"] = 0.0
    bad.to_csv(root / "zero_price.csv", index=False)
    res = dags_test(env, {"profile": "smoke", "source": "local", "local_path": str(root / "zero_price.csv")}, "mmm")
    assert res.returncode != 0
    assert "expect_column_values_to_be_between column 'Net_Price'" in res.stdout + res.stderr
    assert [str(v.version) for v in client.search_model_versions("name = 'mmm'")] == ["1"]
    assert len(_dag_runs(root, "mmm", "FAILED")) == 1


@pytest.mark.slow
def test_market_rl_training_dags_test(stack: tuple[dict[str, str], Path], learned_policies) -> None:
    """Smoke curriculum (one iteration per stage); the nightly test then finds the policies."""
    env, root = stack
    res = learned_policies
    assert res.returncode == 0, (res.stdout + res.stderr)[-5000:]
    (parent,) = _dag_runs(root, "market_rl_training", "FINISHED")
    client = mlflow_client(root)
    for name in ("bidder_aggressive", "bidder_conservative", "bidder_adaptive", "bidder_retargeting", "pricing_policy"):
        assert str(client.get_model_version_by_alias(name, "champion").version) == "1", name
    tasks = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    train = next(t for t in tasks if t.data.tags["airflow.task_id"] == "train_bidders")
    assert {"training/learning_curves.png", "training/history.csv"} <= {
        a.path for a in client.list_artifacts(train.info.run_id, "training")
    }
    assert client.list_artifacts(train.info.run_id, "tensorboard")  # the event files


@pytest.mark.slow
def test_market_nightly_dags_test_with_the_champions(stack: tuple[dict[str, str], Path], ctr_champion,
                                                     pricing_champions, learned_policies) -> None:
    """With the CTR, pricing and learned-bidder champions registered, the nightly evaluates all of them."""
    import pandas as pd

    env, root = stack
    for upstream in (ctr_champion, pricing_champions, learned_policies):
        assert upstream.returncode == 0, (upstream.stdout + upstream.stderr)[-3000:]
    client = mlflow_client(root)
    res = dags_test(env, {"profile": "smoke"}, "market_nightly")
    assert res.returncode == 0, (res.stdout + res.stderr)[-5000:]
    (parent,) = _dag_runs(root, "market_nightly", "FINISHED")
    tasks = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    champs = next(t for t in tasks if t.data.tags["airflow.task_id"] == "load_champions")
    assert champs.data.tags["champion.ctr_lightgbm"] == "v1"
    auctions = next(t for t in tasks if t.data.tags["airflow.task_id"] == "auction_scenarios")
    # The champion was trained on the same synthetic world: it ranks the inventory well, if below the truth.
    assert 0.65 < auctions.data.metrics["pctr_auc.champion"] < auctions.data.metrics["pctr_auc.truth"]
    report = next(t for t in tasks if t.data.tags["airflow.task_id"] == "report")
    assert "report/report.html" in {a.path for a in client.list_artifacts(report.info.run_id, "report")}
    run_dir = next((root / "data" / "market_nightly" / "runs").glob("*/compare"))
    market = pd.read_csv(run_dir / "market.csv")
    assert "champion" in set(market["source"])  # the focal advertiser bid with the registered CTR model
    pricing = pd.read_csv(run_dir / "pricing.csv")
    assert "elasticity (classifier mix)" in set(pricing["policy"])  # the agent_classifier champion's mix
    learned = pd.read_csv(run_dir / "learned_bidders.csv")
    assert set(learned["agent"]) == {"aggressive", "conservative", "adaptive", "retargeting"}
    assert set(learned["policy"]) == {"learned", "scripted"}
    if client.search_model_versions(
        "name = 'pricing_policy'"
    ):  # market_rl_training ran before: learned next to scripted
        assert any(p.startswith("learned (pricing_policy") for p in pricing["policy"])
        assert set(pd.read_csv(run_dir / "learned_bidders.csv")["policy"]) == {"learned", "scripted"}


SCHEDULES = r"""
import json, sys
sys.path.insert(0, sys.argv[1])  # as Airflow does, for _common
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(sys.argv[1])
assert not bag.import_errors, bag.import_errors
print(json.dumps({d: type(bag.dags[d].timetable).__name__ for d in sorted(bag.dags)}))
"""


@pytest.mark.slow  # an Airflow subprocess
@pytest.mark.parametrize("switch", ["on", "off"])
def test_schedules_off_leaves_every_dag_to_triggered_runs(tmp_path: Path, switch: str) -> None:
    env = {**airflow_env(tmp_path / "af", tmp_path), "PLATFORM_SCHEDULES": switch}
    res = subprocess.run([sys.executable, "-c", SCHEDULES, str(REPO / "dags")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    kinds = json.loads(res.stdout.strip().splitlines()[-1])
    scheduled = {d for d, kind in kinds.items() if kind != "NullTimetable"}
    assert len(kinds) == 7
    assert scheduled == ({"budget_bandits", "market_rl_training", "market_nightly"} if switch == "on" else set())


@pytest.mark.slow  # an Airflow subprocess
def test_a_schedules_switch_other_than_on_or_off_is_an_import_error(tmp_path: Path) -> None:
    env = {**airflow_env(tmp_path / "af", tmp_path), "PLATFORM_SCHEDULES": "false"}
    res = subprocess.run([sys.executable, "-c", SCHEDULES, str(REPO / "dags")], env=env, capture_output=True,
                         text=True, timeout=120)
    # The DagBag's import errors, as the Airflow UI lists them (quoted once more inside the assertion's repr).
    assert res.returncode != 0 and "ValueError: PLATFORM_SCHEDULES must be" in res.stderr and "false" in res.stderr
