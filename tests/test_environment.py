"""The environment files agree with each other (the README's install line and the conda env install the same)."""
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def _pins(lines):
    return sorted(l.split("#")[0].strip() for l in lines if l.split("#")[0].strip())


def test_conda_env_pins_equal_requirements():
    env = yaml.safe_load((REPO / "envs/ovyolo.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip) == _pins((REPO / "requirements.txt").read_text().splitlines())
    yolov5 = _pins((REPO / "requirements-yolov5.txt").read_text().splitlines())
    assert all(p in (REPO / "envs/ovyolo.post-deploy.sh").read_text() for p in yolov5)


def test_every_pin_is_exact():
    for f in ("requirements.txt", "requirements-dev.txt", "requirements-yolov5.txt"):
        for pin in _pins((REPO / f).read_text().splitlines()):
            assert "==" in pin, f"{f}: {pin} is not pinned"
