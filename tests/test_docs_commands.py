"""Every command of the docs runs: in a copy of the repository that holds the session's finished tiny run.

Commands and snippets are read from README.md, docs/*.md and config/README.md (tests/doc_snippets.py, which also
states the substitution rule); none is copied here. A ``snakemake`` command that would run jobs runs as a dry run
(``-n``): a real run takes minutes to tens of minutes; one that runs none (``--report``, ``--unlock``) runs as typed,
as do ``python -m ovyolo...`` commands and the Python blocks. A command fails its own test case, named by file,
line and text, when it exits non-zero.

Exempt, and only these: the install lines (``pip ...``: they would change this machine's environment) and the
README's own test command (``python -m pytest -q tests``: this is that command). ``cd`` lines are skipped (every
command runs in the copy). Commands of experiments/ scripts are exempt (not part of the product).
"""
import doc_snippets as docs
import pytest

pytestmark = pytest.mark.e2e

COMMANDS = docs.commands()
RUN = [c for c in COMMANDS if docs.kind(c) in ("run", "dry-run")]
PYTHON_BLOCKS = docs.python_blocks()


@pytest.fixture(scope="module")
def clone(tiny_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("docs")
    wd = root / "ovyolo"
    wd.mkdir()
    stand_ins = docs.make_clone(tiny_run[0], wd, root / "user")
    docs.write_named_configs(COMMANDS, wd, stand_ins)
    return wd, stand_ins["hw"]


def test_only_installs_and_the_test_command_are_exempt():
    """Exempt: pip lines and the parts of the README's own test command (the line .ci/run runs: linters + pytest)."""
    ci = (docs.REPO / ".ci/run").read_text().splitlines()[-1]
    own = {part.strip() for part in ci.split("&&") if not part.strip().startswith("pip ")}
    exempt = {c.text for c in COMMANDS if docs.kind(c) in ("install", "own-tests")}
    assert exempt and all(t.startswith("pip install ") or t in own for t in exempt), (exempt, own)
    assert {c.text for c in COMMANDS if docs.kind(c) == "own-tests"} == own
    assert len(RUN) >= 8  # the README's snakemake, plan and predict commands


@pytest.mark.parametrize("cmd", RUN, ids=[c.id for c in RUN])
def test_command_runs(cmd, clone):
    wd, hw = clone
    proc = docs.run_command(cmd, wd, hw)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{cmd.id} ({docs.kind(cmd)}) failed with {proc.returncode}:\n{out[-6000:]}"
    assert "ERROR" not in out, out[-4000:]
    if docs.kind(cmd) == "dry-run":
        assert "Job stats:" in out or "Nothing to be done" in out, out[-3000:]
    if cmd.words[:4] == ("python", "-m", "ovyolo", "plan"):
        assert "Total: " in proc.stdout or "Nothing to do" in proc.stdout, proc.stdout
    if cmd.words[:4] == ("python", "-m", "ovyolo", "predict"):
        out_dir = cmd.words[cmd.words.index("--out") + 1]
        assert (wd / out_dir / "detections.json").is_file()


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[b.id for b in PYTHON_BLOCKS])
def test_python_block_runs(block, clone, tmp_path):
    import subprocess
    import sys

    from workflow_helpers import guarded_env

    wd, hw = clone
    script = tmp_path / "snippet.py"
    script.write_text(docs.substitute_shapes(block.text, hw))
    proc = subprocess.run([sys.executable, str(script)], cwd=wd, env=guarded_env(wd), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"{block.id} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
