"""The layout's rules, checked on the source: models/ stays pure, no pipeline imports another, no import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PIPELINES = ("avazu_ctr", "pricing_models", "budget_bandits", "banner_bandit_eval", "mmm", "market_nightly",
             "market_rl_training")
IMPURE = ("airflow", "mlflow", "pyspark", "jobs", "ray", "yaml", "great_expectations", "pathlib", "requests")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function (a lazy import is an import too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def project_graph() -> dict[str, set[str]]:
    files = [p for folder in ("jobs", "models") for p in (REPO / folder).rglob("*.py")]
    names = {module_name(p) for p in files}
    return {module_name(p): {m for m in imports(p) if m in names and m != module_name(p)} for p in files}


def test_models_import_no_orchestration_io_or_jobs() -> None:
    bad = {module_name(p): sorted(m for m in imports(p) if m.split(".")[0] in IMPURE)
           for p in (REPO / "models").rglob("*.py")}
    assert {k: v for k, v in bad.items() if v} == {}


def test_no_pipeline_package_imports_another() -> None:
    graph = project_graph()
    crossing = {(src, dst) for src, deps in graph.items() for dst in deps
                if src.split(".")[:2] != dst.split(".")[:2] and src.split(".")[1:2] != []
                and src.split(".")[1] in PIPELINES and dst.split(".")[0] == "jobs" and len(dst.split(".")) > 1
                and dst.split(".")[1] in PIPELINES}
    assert crossing == set()


def test_no_import_cycle() -> None:
    graph = project_graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep):], dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_the_checks_see_a_cycle_and_an_impure_import(tmp_path: Path) -> None:
    """The checks above can fail: a planted lazy import is found."""
    planted = tmp_path / "m.py"
    planted.write_text("def f():\n    import mlflow\n    from jobs.paths import data_root\n")
    assert {"mlflow", "jobs.paths", "jobs.paths.data_root"} <= imports(planted)


def test_every_pipeline_declares_a_consistent_step_contract() -> None:
    from jobs.runner import pipeline
    from jobs.steps import Step

    for name in PIPELINES:
        steps = pipeline(name).STEPS
        assert steps and all(isinstance(s, Step) and s.writes for s in steps.values()), name


def test_a_missing_key_fails_at_the_step_that_needs_it(platform_env: Path) -> None:
    import pytest

    from jobs.paths import RunContext
    from jobs.runner import run_step
    from jobs.steps import ContractError, Step, check_chain

    with pytest.raises(ContractError, match=r"budget_bandits.allocate reads \['facts_path'\]"):
        run_step("budget_bandits", "allocate", "smoke", None, RunContext.cli("budget_bandits"), {"plan_day": "x"})
    with pytest.raises(ContractError, match=r"p.b reads \['y'\], which no earlier step writes"):
        check_chain("p", {"a": Step(dict, writes=("x",)), "b": Step(dict, reads=("x", "y"), writes=("z",))})
    step = Step(lambda cfg, ctx, state: {**state, "x": 1}, reads=(), writes=("x", "forgotten"))
    with pytest.raises(ContractError, match=r"p.a declares it writes \['forgotten'\]"):
        step.check_output("p", "a", step.run(None, None, {}))
    # What Airflow's XCom cannot carry (strict JSON) is refused here too, naming the keys; null is fine.
    step.check_output("p", "a", {"x": [{"share": None}], "forgotten": 1})
    with pytest.raises(ContractError, match=r"p.a returned NaN or infinite values in \['x', 'forgotten'\]"):
        step.check_output("p", "a", {"x": [{"share": float("nan")}], "forgotten": float("inf")})
