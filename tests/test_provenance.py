import json
import subprocess
from pathlib import Path

import pytest

from ovyolo.provenance import FILENAME, git_commit, sha256, write_provenance

pytestmark = pytest.mark.unit


def test_write_provenance_records_inputs_params_versions_cpu_commit(tmp_path):
    a = tmp_path / "a.bin"
    a.write_bytes(b"hello")
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "b.txt").write_text("x")
    out = write_provenance(tmp_path / "out", inputs=[a, folder], params={"preset": "mixed", "p": Path("/x")},
                           extra={"threads": 2, "precision_hint": "f32"})
    assert out == tmp_path / "out" / FILENAME
    rec = json.loads(out.read_text())
    assert rec["inputs"][str(a)] == {"sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                                     "bytes": 5}
    assert rec["inputs"][str(folder / "b.txt")]["sha256"] == sha256(folder / "b.txt")
    assert rec["params"] == {"preset": "mixed", "p": "/x"}
    assert rec["extra"] == {"threads": 2, "precision_hint": "f32"}
    for pkg in ("openvino", "nncf", "torch", "ultralytics", "numpy"):
        assert pkg in rec["system"]["versions"]
    assert rec["system"]["versions"]["openvino"]
    assert rec["system"]["logical_cores"] >= 1 and rec["system"]["cpu_model"]
    assert all(isinstance(v, bool) for v in rec["system"]["cpu_flags"].values()) and "avx2" in rec["system"]["cpu_flags"]
    assert rec["workflow_commit"]
    assert rec["created"]


def test_missing_input_is_recorded_not_hidden(tmp_path):
    rec = json.loads(write_provenance(tmp_path, inputs=[tmp_path / "nope"]).read_text())
    assert rec["inputs"][str(tmp_path / "nope")]["sha256"] is None


def test_git_commit(tmp_path):
    assert git_commit(tmp_path) == "not a git checkout"
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f").write_text("1")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    import os

    subprocess.run(["git", "add", "f"], cwd=tmp_path, check=True)
    subprocess.run(["git", "commit", "-qm", "x"], cwd=tmp_path, check=True, env={**os.environ, **env})
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert git_commit(tmp_path) == head
    (tmp_path / "f").write_text("2")
    assert git_commit(tmp_path) == head + "-dirty"
