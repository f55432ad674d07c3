"""Config profiles and overrides; atomic writes; MLflow run nesting and tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.avazu_ctr.config import AvazuConfig, load
from jobs.paths import RunContext, atomic_path, publish_link
from jobs.provenance import config_hash
from jobs.tracking import task_run


def test_profiles_differ_and_overrides_win() -> None:
    smoke, demo = load("smoke"), load("demo")
    assert smoke.sample_rows < demo.sample_rows == 1_000_000
    cfg = load("smoke", {"learning_rate": 0.05, "num_leaves": None, "seed": "7", "use_id_encodings": "false"})
    assert cfg.learning_rate == 0.05 and cfg.num_leaves == smoke.num_leaves and cfg.seed == 7
    assert cfg.use_id_encodings is False


@pytest.mark.parametrize("overrides, field", [
    ({"num_leaves": 1}, "num_leaves"),
    ({"split": "weekly"}, "split"),
    ({"holdout_fraction": 0.9}, "holdout_fraction"),
    ({"source": "ftp"}, "source"),
    ({"validation_engine": "dask"}, "validation_engine"),
    ({"validation_spark_rows": -1}, "validation_spark_rows"),
    ({"train_in_memory_rows": -5}, "train_in_memory_rows"),
])
def test_invalid_values_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        load("demo", overrides)


def test_unknown_setting_and_profile_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown setting 'learnin_rate'"):
        load("demo", {"learnin_rate": 0.1})
    with pytest.raises(ValueError, match="profile"):
        load("huge")


def test_config_hash_tracks_values() -> None:
    assert config_hash(load("demo")) == config_hash(load("demo"))
    assert config_hash(load("demo")) != config_hash(load("demo", {"seed": 1}))


def test_every_knob_has_one_value_in_its_profile_file() -> None:
    """The YAML is the one source: the dataclass has no defaults, and a knob missing from the file is named."""
    import dataclasses

    from jobs.config import build_config
    from jobs.runner import pipeline

    assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               for f in dataclasses.fields(AvazuConfig))

    @dataclasses.dataclass(frozen=True)
    class Wider(AvazuConfig):
        brand_new_knob: int

    with pytest.raises(ValueError, match="sets no value for \\['brand_new_knob'\\]"):
        build_config(Wider, "avazu_ctr", "demo")
    for name in ("avazu_ctr", "pricing_models", "budget_bandits", "banner_bandit_eval", "mmm", "market_nightly",
                 "market_rl_training"):
        for profile in ("smoke", "demo", "full"):
            pipeline(name).load(profile)  # every profile of every pipeline builds


def test_atomic_path_keeps_the_old_result_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "out"
    with atomic_path(final, is_dir=True) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(final, is_dir=True) as tmp:
            (tmp / "a.txt").write_text("half-written")
            raise RuntimeError("boom")
    assert (final / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    with atomic_path(final, is_dir=True) as tmp:
        (tmp / "b.txt").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"]


def test_publish_link_repoints(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    link = tmp_path / "current"
    publish_link(a, link)
    publish_link(b, link)
    assert link.resolve() == b


def test_task_runs_nest_under_one_parent_with_tags(platform_env: Path) -> None:
    import mlflow

    ctx = RunContext("avazu_ctr", "manual__x")
    cfg = load("smoke")
    with task_run("t_exp", ctx.for_task("a"), cfg) as r1:
        pass
    with task_run("t_exp", ctx.for_task("b"), cfg) as r2:
        pass
    p1, p2 = r1.data.tags["mlflow.parentRunId"], r2.data.tags["mlflow.parentRunId"]
    assert p1 == p2
    run = mlflow.get_run(r2.info.run_id)
    tags = run.data.tags
    assert tags["airflow.dag_id"] == "avazu_ctr" and tags["airflow.run_id"] == "manual__x"
    assert tags["airflow.task_id"] == "b" and tags["config.hash"] == config_hash(cfg) and "git.sha" in tags
    assert str(platform_env / "mlflow") in mlflow.get_tracking_uri()


def test_sqlite_store_keeps_artifacts_next_to_its_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PLATFORM_MLFLOW_DIR (the `make ui` case), artifacts must not land in ./mlruns."""
    import mlflow

    from jobs.tracking import mlflow_setup

    monkeypatch.delenv("PLATFORM_MLFLOW_DIR", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "store").mkdir()
    first = mlflow_setup("exp_a")
    assert mlflow_setup("exp_a") == first  # idempotent
    with mlflow.start_run(experiment_id=first):
        mlflow.log_text("hello", "note.txt")
    assert mlflow.get_experiment(first).artifact_location == (tmp_path / "store" / "artifacts" / "exp_a").as_uri()
    assert list((tmp_path / "store" / "artifacts" / "exp_a").rglob("note.txt"))
    assert not (tmp_path / "mlruns").exists()


def test_threads_follow_the_machine_or_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from jobs.resources import cpu_count

    monkeypatch.delenv("PLATFORM_THREADS", raising=False)
    assert cpu_count() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("PLATFORM_THREADS", "5")
    assert cpu_count() == 5
    monkeypatch.setenv("PLATFORM_THREADS", "0")
    with pytest.raises(ValueError, match="PLATFORM_THREADS must be a positive integer"):
        cpu_count()
