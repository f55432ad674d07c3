"""pricing_models end to end without Airflow: three registered models; bad events stop the run early."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from jobs.pricing_models.promote import GateError
from jobs.pricing_models.validate import current_features_link, repair_events
from jobs.runner import run_pipeline
from models.common.errors import BadInputError

pytestmark = pytest.mark.slow
SMALL = {"n_sessions": 2500, "xgb_rounds": 150, "mt_epochs": 5}


@pytest.fixture(scope="module")
def first_run(module_env: Path) -> dict:
    return run_pipeline("pricing_models", "smoke", SMALL, run_id="good")


def test_the_report_page_reads_in_a_browser(first_run: dict) -> None:
    from tests.browser import check_report

    seen = check_report(Path(first_run["report_html"]), "pricing_models")
    assert seen["images"] >= 3 and seen["findings"][0].startswith("Agent classifier: holdout ROC-AUC")
    assert not any("oracle" in f for f in seen["findings"])  # the oracle is a yardstick, not a policy to deploy


def test_three_models_registered_with_figures(first_run: dict) -> None:
    import mlflow

    reg = first_run["registered"]
    assert {k: (v["model"], v["version"], v["alias"]) for k, v in reg.items()} == {
        "classifier": ("agent_classifier", 1, "champion"), "multitask": ("pricing_multitask", 1, "champion"),
        "rules": ("pricing_rules", 1, "champion")}
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("pricing_models")
    runs = {
        r.data.tags["airflow.task_id"]: r
        for r in client.search_runs([exp.experiment_id], "tags.`platform.role` = 'task'")
    }
    clf = runs["train_agent_classifier"].data.metrics
    assert clf["holdout_roc_auc"] >= 0.9 and clf["oracle_auc"] > 0.9
    assert {"loko_auc.llm_agent", "loko_auc.scraper", "loko_auc.price_monitor", "holdout_pr_auc"} <= set(clf)
    mt = runs["train_multitask"].data.metrics
    assert {"holdout_purchase_auc", "holdout_agent_auc", "xgboost_agent_auc", "oracle_purchase_auc"} <= set(mt)
    assert os.readlink(current_features_link()) == str(Path(first_run["features_path"]).parent)
    rules = (Path(first_run["pricing_path"]) / "rules.txt").read_text()
    assert rules.startswith("IF ") and "THEN price x" in rules
    table = pd.read_csv(Path(first_run["pricing_path"]) / "pricing_policies.csv").set_index("key")
    assert table.loc["oracle", "revenue_per_1000"] >= table["revenue_per_1000"].max() - 1e-6
    assert table.loc["oracle", "margin_leakage_per_1000"] == pytest.approx(0.0, abs=1e-6)
    assert {"classifier/shap_importance.png", "classifier/roc_calibration.png"} <= {
        a.path for a in client.list_artifacts(runs["train_agent_classifier"].info.run_id, "classifier")}
    served = mlflow.pyfunc.load_model("models:/pricing_multitask@champion")
    feats = pd.read_parquet(first_run["features_path"]).head(3)
    out = served.predict(feats.drop(columns=["sessionId", "label", "split", "purchased", "offer_product"]))
    assert list(out.columns) == ["p_agent", "p_purchase"] and out.to_numpy().min() >= 0


def test_the_multitask_model_lists_what_it_needs(first_run: dict) -> None:
    from tests.model_requirements import uncovered

    assert uncovered("models:/pricing_multitask@champion") == set()


def _events_folder(root: Path, first_run: dict, edit) -> Path:
    folder = root / "bad_events"
    folder.mkdir(exist_ok=True)
    events = pd.read_parquet(first_run["events_path"])
    edit(events).to_parquet(folder / "events.parquet", index=False)
    pd.read_parquet(first_run["offers_path"]).to_parquet(folder / "offers.parquet", index=False)
    return folder


BAD_EVENTS = [
    ("unknown event type", lambda e: e.assign(eventType=e["eventType"].mask(e.index == 10, "teleport")),
     "expect_column_values_to_be_in_set column 'eventType'"),
    ("negative price", lambda e: e.assign(price=e["price"].mask(e.index == e["price"].first_valid_index(), -3.0)),
     "expect_column_values_to_be_between column 'price'"),
    # Caught by the reader, before the suite, with its row.
    ("missing sessionId", lambda e: e.assign(sessionId=e["sessionId"].mask(e.index == 5, None)),
     "column 'sessionId', row 6: empty cell"),
    ("conflicting duplicate", lambda e: pd.concat([e, e.iloc[[7]].assign(userAgent="curl/8.0")], ignore_index=True),
     "expect_compound_columns_to_be_unique"),
]
# The Spark engine sees the same suites; the reader's check comes before either engine.
SPARK_BAD_EVENTS = [c for c in BAD_EVENTS if c[0] != "missing sessionId"]


@pytest.mark.parametrize("engine, case, edit, message",
                         [("pandas", *c) for c in BAD_EVENTS] + [("spark", *c) for c in SPARK_BAD_EVENTS])
def test_bad_events_stop_before_features(first_run: dict, tmp_path: Path, engine: str, case: str, edit,
                                         message: str) -> None:
    published = os.readlink(current_features_link())
    folder = _events_folder(tmp_path, first_run, edit)
    with pytest.raises(BadInputError) as err:
        run_pipeline("pricing_models", "smoke", {**SMALL, "source": "files", "events_path": str(folder),
                                                 "validation_engine": engine}, run_id="bad")
    assert message in str(err.value), case
    assert os.readlink(current_features_link()) == published
    assert not (Path(first_run["features_path"]).parents[2] / "bad" / "features").exists()


@pytest.mark.parametrize("engine", ["pandas", "spark"])
def test_repairs_are_counted_and_orphan_offers_refused(first_run: dict, tmp_path: Path, engine: str) -> None:
    def dup_and_shuffle(e: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([e, e.head(25)], ignore_index=True).sample(frac=1.0, random_state=0)

    folder = _events_folder(tmp_path, first_run, dup_and_shuffle)
    params = {**SMALL, "source": "files", "events_path": str(folder), "validation_engine": engine}
    state = run_pipeline("pricing_models", "smoke", params, run_id=f"repaired_{engine}", until="validate_events")
    assert state["repairs"]["duplicate_events_dropped"] == 25 and state["repairs"]["sessions_reordered"] > 100
    assert state["repairs"] == repair_events(pd.read_parquet(folder / "events.parquet"))[1]
    offers = pd.read_parquet(folder / "offers.parquet")
    pd.concat([offers, offers.head(1).assign(sessionId="ghost")]).to_parquet(folder / "offers.parquet", index=False)
    with pytest.raises(BadInputError, match="1 offers in .* belong to sessions without events, e.g. .'ghost'"):
        run_pipeline("pricing_models", "smoke", params, run_id=f"orphan_{engine}")


def test_the_spark_engine_gives_the_same_run(first_run: dict) -> None:
    """Repairs and suites on Spark, the same events: the same clean events, features and models' figures."""
    state = run_pipeline("pricing_models", "smoke", {**SMALL, "validation_engine": "spark"}, run_id="on_spark",
                         until="train_agent_classifier")
    assert state["validate_events"][0]["engine"] == "spark" and first_run["validate_events"][0]["engine"] == "pandas"
    assert state["repairs"] == first_run["repairs"]
    pd.testing.assert_frame_equal(pd.read_parquet(state["features_path"]), pd.read_parquet(first_run["features_path"]))
    assert state["classifier_auc"] == first_run["classifier_auc"]


def test_failed_gate_registers_nothing(platform_env: Path) -> None:
    import mlflow

    with pytest.raises(GateError, match="agent_classifier failed the gate: holdout ROC-AUC"):
        run_pipeline("pricing_models", "smoke", {**SMALL, "gate_auc": 0.9999}, run_id="gated")
    assert mlflow.MlflowClient().search_registered_models() == []
    # The features validated, but the run failed later: the pointer must not move to them.
    assert not os.path.lexists(current_features_link())


def test_no_labelled_sessions_is_a_clear_error(first_run: dict, tmp_path: Path) -> None:
    published = os.readlink(current_features_link())
    folder = _events_folder(tmp_path, first_run, lambda e: e.assign(experimentId="xp_some_other_test"))
    with pytest.raises(BadInputError, match="no labelled sessions in .* nothing to train on"):
        run_pipeline("pricing_models", "smoke", {**SMALL, "source": "files", "events_path": str(folder)},
                     run_id="unlabelled")
    assert os.readlink(current_features_link()) == published
    assert not (Path(first_run["features_path"]).parents[2] / "unlabelled" / "features" / "sessions.parquet").exists()
