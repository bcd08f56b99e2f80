"""The environment files agree with each other (the README's install line and the conda env install the same)."""
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from workflow_helpers import MODEL_API_PIN

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parent.parent
YOLOV5_PIN = "yolov5==7.0.14"


def _pins(lines):
    return sorted(row.split("#")[0].strip() for row in lines if row.split("#")[0].strip())


def _file_pins(name):
    return _pins((REPO / name).read_text().splitlines())


def test_conda_env_pins_equal_requirements_and_the_yolov5_group():
    env = yaml.safe_load((REPO / "envs/ovyolo.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip) == sorted(_file_pins("requirements.txt") + _file_pins("requirements-yolov5.txt"))
    assert YOLOV5_PIN in (REPO / "envs/ovyolo.post-deploy.sh").read_text()


def test_readme_commands_install_the_package_with_its_groups_and_ci_runs_the_test_command():
    readme = (REPO / "README.md").read_text()
    commands = [line for line in readme.splitlines() if line.startswith("pip install")]
    assert len(commands) == 2, commands
    main, tests = commands
    assert "-e '.[yolov5]'" in main and f"--no-deps {YOLOV5_PIN}" in main and main.endswith("snakemake --cores 8")
    assert "-e '.[yolov5,dev]'" in tests and f"--no-deps {YOLOV5_PIN} {MODEL_API_PIN}" in tests and "pytest" in tests
    assert tests in (REPO / ".ci/run").read_text().splitlines()


def test_pyproject_reads_the_pinned_files():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    dyn = meta["tool"]["setuptools"]["dynamic"]
    assert dyn["dependencies"]["file"] == ["requirements.txt"]
    assert dyn["optional-dependencies"]["yolov5"]["file"] == ["requirements-yolov5.txt"]
    assert dyn["optional-dependencies"]["dev"]["file"] == ["requirements-dev.txt"]


def test_every_pin_is_exact():
    for f in ("requirements.txt", "requirements-dev.txt", "requirements-yolov5.txt"):
        for pin in _file_pins(f):
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.+\-]*", pin), f"{f}: {pin} is not pinned"
