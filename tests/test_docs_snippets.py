"""Every YAML snippet of the docs (README.md, docs/*.md, config/README.md) validates against the schema.

The snippets are read from the files (tests/doc_snippets.py), never copied here: a snippet that stops validating
fails its own test case, named by file and line. A snippet without ``models:`` is a fragment (e.g. a
``quantization:`` block) and is validated merged into a minimal config with one demo model. Snippets that configure
models are also taken through identification and discovery (test_docs_models.py); the commands run in
test_docs_commands.py.
"""
import copy

import doc_snippets as docs
import pytest

from ovyolo.config import validate
from ovyolo.errors import WorkflowError

pytestmark = pytest.mark.unit

MINIMAL = {"models": {"m": {"source": "demo", "data": "demo"}}}
YAML_BLOCKS = docs.yaml_blocks()


def as_config(block) -> dict:
    cfg = docs.load_yaml(block)
    assert isinstance(cfg, dict), f"{block.id}: a YAML snippet should be a mapping"
    if "models" in cfg:
        return cfg
    merged = copy.deepcopy(MINIMAL)
    merged.update(cfg)
    return merged


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=[b.id for b in YAML_BLOCKS])
def test_yaml_snippet_validates(block):
    try:
        validate(as_config(block))
    except WorkflowError as exc:
        pytest.fail(f"{block.id}: {exc}\n{block.text}")


def test_the_docs_are_read():
    """The parser finds the docs' snippets and commands (a parser that found nothing would pass everything)."""
    assert docs.REPO / "README.md" in docs.doc_files()
    assert len(YAML_BLOCKS) >= 4 and any("quantization" in docs.load_yaml(b) and "models" not in docs.load_yaml(b)
                                         for b in YAML_BLOCKS)
    words = [c.words for c in docs.commands()]
    assert any(w[:2] == ("snakemake", "--cores") for w in words) and any(w[:4] == ("python", "-m", "ovyolo", "plan") for w in words)
    assert docs.named_snippet("mine.yaml") is not None and docs.named_snippet("sweep.yaml") is not None


MD = '''# t

```yaml
models:
  m: {source: demo, data: demo, imgsz: [736, 1280, 3]}
```

    snakemake --cores 2 \\
        results/demo/160x256/profile.json --configfile x.yaml   # comment
    python -m ovyolo plan && VAR=1 snakemake -n

```
bundles/int8/
  model_openvino_model/
```

```bash
frobnicate --all
```
'''


def test_a_broken_snippet_fails_and_commands_are_parsed(tmp_path):
    """What the checks above rely on: a snippet that breaks the schema is caught; indented blocks, continuation
    lines, comments and && are read as a user's shell would; a file tree is not a command; an unknown program in
    a shell block is an error, not a silent skip."""
    path = tmp_path / "x.md"
    bs = docs.blocks([path], text=MD)
    (y,) = docs.yaml_blocks(bs)
    with pytest.raises(WorkflowError, match="models.m.imgsz"):
        validate(as_config(y))
    with pytest.raises(AssertionError, match="frobnicate --all"):
        docs.commands(bs)
    cmds = docs.commands([b for b in bs if b.lang != "bash"])
    assert [c.text for c in cmds] == [
        "snakemake --cores 2 results/demo/160x256/profile.json --configfile x.yaml",
        "python -m ovyolo plan", "snakemake -n"]
    assert cmds[2].env == (("VAR", "1"),)


def test_substitution_rule():
    text = 'YOLO("results/demo/736x1280/bundles/int8/m").predict(x, imgsz=[736, 1280]); other=[736, 1281]'
    assert docs.substitute_shapes(text, (192, 320)) == \
        'YOLO("results/demo/192x320/bundles/int8/m").predict(x, imgsz=[192, 320]); other=[736, 1281]'
    stand = {"run": "/s/run", "yolov5_run": "/s/v5", "onnx": "/s/m.onnx", "data": "/s/data.yaml", "yolov5_repo": "/s/clone"}
    cfg = docs.substitute_config({"models": {
        "a": {"source": "/x/train7", "data": "/x/d.yaml"}, "b": {"source": "/x/best.pt", "data": "demo"},
        "c": {"source": "/x/m.onnx", "data": "/x/d.yaml"}, "d": {"source": "/y/exp", "data": "/y/d.yaml", "yolov5_repo": "/y"},
    }}, stand)["models"]
    assert [m["source"] for m in cfg.values()] == ["/s/run", "/s/run/weights/best.pt", "/s/m.onnx", "/s/v5"]
    assert {m["data"] for m in cfg.values()} == {"/s/data.yaml"} and cfg["d"]["yolov5_repo"] == "/s/clone"
