"""The notebooks: committed without outputs, and every one executed on the smoke profile as `make notebooks`
does (nbclient, fresh kernel each), with the figures and tables each is there to show."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from jobs.notebooks import NOTEBOOKS, NotebookError, committed_outputs, execute, notebook_paths, run

NAMES = ["01_data", "02_eda", "03_features", "04_model", "05_curves", "06_simulator", "07_pricing", "08_market"]
# Plotly figures each notebook draws (05: one per curve level, national / brand / geo).
FIGURES = {"01_data": 0, "02_eda": 5, "03_features": 3, "04_model": 0, "05_curves": 3, "06_simulator": 0,
           "07_pricing": 1, "08_market": 3}


def outputs(nb: object, kind: str) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if kind in o.get("data", {}) or o.get("output_type") == kind]


def test_the_notebooks_are_committed_without_outputs() -> None:
    assert [p.stem for p in notebook_paths()] == NAMES
    assert {p.name: committed_outputs(p) for p in notebook_paths() if committed_outputs(p)} == {}


def test_an_executed_notebook_would_be_refused(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / "01_data.ipynb", as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hello")]
    nb.cells[1].execution_count = 1
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert committed_outputs(tmp_path / "x.ipynb") == [1]


def test_unknown_notebook_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown notebooks \['09_nope'\]"):
        notebook_paths(["01_data", "09_nope"])


@pytest.mark.slow  # a kernel
def test_a_failing_cell_is_named_and_its_output_kept(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("raise ValueError('no such channel: Billboards')")],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nbformat.write(nb, tmp_path / "bad.ipynb")
    with pytest.raises(NotebookError, match=r"bad.ipynb, cell 1:.*no such channel: Billboards"):
        execute(tmp_path / "bad.ipynb", tmp_path / "out", "smoke")
    kept = nbformat.read(tmp_path / "out" / "bad.ipynb", as_version=4)
    assert outputs(kept, "error") and kept.cells[0].execution_count == 1


@pytest.mark.slow  # every pipeline a notebook runs (mmm, pricing_models, market_nightly), on smoke
def test_every_notebook_runs_on_smoke_and_shows_its_figures(platform_env: Path) -> None:
    import mlflow

    from jobs.tracking import mlflow_tracking_uri

    done = run(None, "smoke")
    assert [d.name for d in done] == NAMES
    for d in done:
        nb = nbformat.read(d.path, as_version=4)
        assert not outputs(nb, "error"), d.name
        assert len(outputs(nb, "application/vnd.plotly.v1+json")) == FIGURES[d.name], d.name
    simulator = nbformat.read(done[5].path, as_version=4)
    assert outputs(simulator, "application/vnd.jupyter.widget-view+json")  # the sliders
    answer = simulator.cells[4].outputs[0]["data"]["text/plain"]
    assert "what-if" in answer and "current" in answer
    client = mlflow.MlflowClient(mlflow_tracking_uri())
    exp = client.get_experiment_by_name("notebooks")
    (logged,) = client.search_runs([exp.experiment_id])
    assert sorted(a.path for a in client.list_artifacts(logged.info.run_id, "executed")) == \
        [f"executed/{n}.ipynb" for n in NAMES]
