"""The code blocks of the user docs, read with a CommonMark parser, for the tests that keep them runnable.

Read: README.md, every docs/*.md and config/README.md when they exist (no snippet is copied into a test).

- YAML blocks (```yaml) are configs or config fragments.
- Python blocks (```python) are programs.
- Commands are the lines of shell blocks (```bash / ```sh / ```shell / ```console) and of fenced or indented blocks
  without a language whose first line starts with a command (``snakemake``, ``python``, ``pip``, ``cd``, after
  ``VAR=value`` assignments); a block without a language that starts otherwise (a diagram, a file tree, an output
  line) is not a command. A line ending in ``\\`` continues on the next; ``#`` starts a comment; ``a && b`` is two
  commands. Inline code in prose is not a command: every command a user is meant to type sits in a block.

Substitution rule (the only changes made before a snippet or command runs):

1. Shapes: a demo results path ``results/demo/<h>x<w>`` written in the docs becomes the test run's shape, and
   ``[<h>, <w>]`` (``imgsz=[h, w]``) in the same snippet becomes that shape too. The docs are written for the
   default config (160x256) and the seed config (736x1280); the tests run the tiny config.
2. Model paths in a YAML config: ``source:`` becomes a generated stand-in of the same kind -- an original YOLOv5 run
   when the model sets ``yolov5_repo`` (which becomes a clone-style YOLOv5 tree), else an Ultralytics training run;
   its ``weights/best.pt`` when the value ends in ``.pt``; an ONNX export when it ends in ``.onnx``; ``data:``
   becomes the stand-in data set's ``data.yaml`` (``demo`` counts as a path here too).
3. Files a command names that the repository does not have (``mine.yaml``, ``sweep.yaml``) are the YAML snippet
   whose first line is ``# <name>``, after rule 2.
4. ``cd`` lines are skipped: every command runs in a copy of the repository (see test_docs_commands.py).
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SHELL_LANGS = ("bash", "sh", "shell", "console")
COMMAND_WORDS = ("snakemake", "python", "pip", "cd", "ruff", "snakefmt")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def doc_files(repo: Path = REPO) -> list[Path]:
    files = [repo / "README.md", *sorted((repo / "docs").glob("*.md")), repo / "config" / "README.md"]
    return [f for f in files if f.is_file()]


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence / first indented line
    lang: str
    text: str

    @property
    def id(self) -> str:
        try:
            where = self.path.relative_to(REPO)
        except ValueError:
            where = self.path
        return f"{where}:{self.line}"


@dataclass(frozen=True)
class Command:
    block: Block
    words: tuple[str, ...]  # after the VAR=value assignments
    env: tuple[tuple[str, str], ...]
    text: str

    @property
    def id(self) -> str:
        return f"{self.block.id} {self.text[:70]}"


def blocks(paths: list[Path] | None = None, text: str | None = None) -> list[Block]:
    """Every fenced and indented code block (``text``: parse this Markdown instead, as ``paths[0]``)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    out = []
    for path in paths if paths is not None else doc_files():
        src = text if text is not None else path.read_text()
        for tok in md.parse(src):
            if tok.type in ("fence", "code_block"):
                lang = tok.info.strip().split()[0].lower() if tok.type == "fence" and tok.info.strip() else ""
                out.append(Block(path, tok.map[0] + 1, lang, tok.content))
    return out


def yaml_blocks(bs: list[Block] | None = None) -> list[Block]:
    return [b for b in (blocks() if bs is None else bs) if b.lang in ("yaml", "yml")]


def python_blocks(bs: list[Block] | None = None) -> list[Block]:
    return [b for b in (blocks() if bs is None else bs) if b.lang == "python"]


def _command_words(line: str) -> tuple[list[tuple[str, str]], list[str]]:
    words = shlex.split(line, comments=True)
    env = []
    while words and _ASSIGN.match(words[0]):
        k, v = words.pop(0).split("=", 1)
        env.append((k, v))
    return env, words


def commands(bs: list[Block] | None = None) -> list[Command]:
    out = []
    for b in blocks() if bs is None else bs:
        if b.lang not in SHELL_LANGS + ("",):
            continue
        lines = re.sub(r"\\\n\s*", " ", b.text).splitlines()
        lines = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
        if not lines:
            continue
        if b.lang == "":
            first = _command_words(lines[0])[1] if not lines[0].startswith(("|", "+")) else []
            if not first or first[0] not in COMMAND_WORDS:
                continue  # a diagram, a file tree or an output line, not a command
        for line in lines:
            for part in re.split(r"\s&&\s", line):
                env, words = _command_words(part)
                if not words:
                    continue
                if words[0] not in COMMAND_WORDS:
                    raise AssertionError(f"{b.id}: '{part}' in a shell block is not a command this test knows "
                                         f"({', '.join(COMMAND_WORDS)}); teach tests/doc_snippets.py or fix the docs")
                out.append(Command(b, tuple(words), tuple(env), shlex.join(words)))
    return out


# ----------------------------------------------------------------------------------------------- substitution

SHAPE_PATH = re.compile(r"results/demo/(\d+)x(\d+)")


def substitute_shapes(text: str, hw: tuple[int, int]) -> str:
    """Rule 1: every demo results path's shape, and the same h, w written as ``[h, w]``, become ``hw``."""
    for h, w in sorted({(int(a), int(b)) for a, b in SHAPE_PATH.findall(text)}):
        text = text.replace(f"results/demo/{h}x{w}", f"results/demo/{hw[0]}x{hw[1]}")
        text = re.sub(rf"\[\s*{h}\s*,\s*{w}\s*\]", f"[{hw[0]}, {hw[1]}]", text)
    return text


def substitute_config(cfg: dict, stand_ins: dict) -> dict:
    """Rule 2: ``stand_ins`` has ``run``, ``yolov5_run`` (run folders), ``onnx``, ``data``, ``yolov5_repo``."""
    for model in (cfg.get("models") or {}).values():
        v5 = "yolov5_repo" in model
        run = Path(stand_ins["yolov5_run" if v5 else "run"])
        src = str(model.get("source", ""))
        model["source"] = str(stand_ins["onnx"] if src.endswith(".onnx") else
                              run / "weights" / "best.pt" if src.endswith(".pt") else run)
        if "data" in model:
            model["data"] = str(stand_ins["data"])
        if v5:
            model["yolov5_repo"] = str(stand_ins["yolov5_repo"])
    return cfg


def named_snippet(name: str, bs: list[Block] | None = None) -> Block | None:
    """Rule 3: the YAML block whose first line is ``# <name>`` (optionally followed by ``:`` and text)."""
    for b in yaml_blocks(bs):
        first = b.text.lstrip().splitlines()[0] if b.text.strip() else ""
        if re.match(rf"^#\s*{re.escape(name)}\b", first):
            return b
    return None


def load_yaml(block: Block) -> dict:
    return yaml.safe_load(block.text) or {}


# ----------------------------------------------------------------------------------------------- running commands

REAL_SNAKEMAKE = {"--report", "--unlock", "--lint", "--help", "-h", "--version"}  # options that run no jobs


def kind(cmd: Command) -> str:
    """How a command is exercised: ``install`` and ``own-tests`` (exempt: pip lines and the README's own test
    command, its linters included), ``cd`` (rule 4), ``experiment`` (exempt: ``python experiments/*.py``, dated one-off measurements
    that are not part of the product, see experiments/README.md), ``dry-run`` (snakemake that would run jobs:
    ``-n``) or ``run`` (as typed)."""
    w = cmd.words
    if w[0] == "pip":
        return "install"
    if w[:3] == ("python", "-m", "pytest") or w[0] in ("ruff", "snakefmt"):
        return "own-tests"  # the README's test command: its linters and pytest
    if w[0] == "cd":
        return "cd"
    if w[0] == "python" and len(w) > 1 and w[1].startswith("experiments/"):
        return "experiment"
    if w[0] == "snakemake" and not REAL_SNAKEMAKE & set(w) and not {"-n", "--dry-run", "--dryrun"} & set(w):
        return "dry-run"
    return "run"


def make_clone(run_dir: Path, dest: Path, stand_ins_root: Path) -> dict:
    """A copy of the repository as a user has it (its tracked and new files, as in this working tree) holding a
    finished run: ``results/`` and ``.snakemake/`` of ``run_dir`` and its config as ``config.yaml``. Returns the
    stand-ins of rule 2, made from that run (its training run, data set and ONNX, copied outside the clone)."""
    import shutil
    import subprocess

    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for f in filter(None, files):
        src = REPO / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    for sub in ("results", ".snakemake"):
        shutil.copytree(run_dir / sub, dest / sub, symlinks=True)
    shutil.copy2(run_dir / "config.yaml", dest / "config.yaml")
    shape = json.loads((run_dir / "results/demo/shape.json").read_text())["shapes"][0]
    hw = (shape["h"], shape["w"])
    shutil.copytree(run_dir / "results/_demo/run", stand_ins_root / "runs/detect/train")
    shutil.copytree(run_dir / "results/_demo/dataset", stand_ins_root / "data")
    (stand_ins_root / "exports").mkdir(parents=True)
    shutil.copy2(run_dir / f"results/demo/{hw[0]}x{hw[1]}/model.onnx", stand_ins_root / "exports/model.onnx")
    return {"hw": hw, "run": stand_ins_root / "runs/detect/train", "data": stand_ins_root / "data/data.yaml",
            "onnx": stand_ins_root / "exports/model.onnx", "yolov5_run": None, "yolov5_repo": None}


def write_named_configs(cmds: list[Command], dest: Path, stand_ins: dict) -> list[Path]:
    """Rule 3: every config file a command names that the clone does not have, from its snippet."""
    written = []
    for c in cmds:
        for i, w in enumerate(c.words):
            if w.endswith((".yaml", ".yml")) and i and c.words[i - 1] in ("--configfile", "--configfiles"):
                if (dest / w).exists():
                    continue
                snippet = named_snippet(Path(w).name)
                assert snippet is not None, f"{c.id}: names {w}, which is neither in the repository nor a '# {w}' snippet"
                (dest / w).write_text(yaml.safe_dump(substitute_config(load_yaml(snippet), stand_ins), sort_keys=False))
                written.append(dest / w)
    return written


def run_command(cmd: Command, cwd: Path, hw: tuple[int, int], extra: list[str] = (), timeout: int = 900):
    """Run ``cmd`` in ``cwd`` after rule 1, as :func:`kind` says; ``python`` and ``snakemake`` are this interpreter's
    (what the user's shell finds in the same environment). Network use is refused and recorded (tests/netguard)."""
    import subprocess
    import sys

    from workflow_helpers import guarded_env

    words = shlex.split(substitute_shapes(cmd.text, hw))
    if words[0] == "snakemake":
        argv = [sys.executable, "-m", "snakemake", *words[1:]] + (["-n"] if kind(cmd) == "dry-run" else [])
    elif words[0] == "python":
        argv = [sys.executable, *words[1:]]
    else:
        raise AssertionError(f"{cmd.id}: not a command these tests run")
    env = {**guarded_env(cwd), **dict(cmd.env)}
    return subprocess.run([*argv, *extra], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
