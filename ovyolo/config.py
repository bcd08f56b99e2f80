"""The configuration: validation against the schema (``ovyolo/config.schema.yaml``, shipped with the package), with
its defaults filled in, one-line errors, and :func:`default`: the schema is the one place a config default lives."""
from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

from ovyolo.errors import WorkflowError

SCHEMA = Path(__file__).resolve().parent / "config.schema.yaml"


def _resolve(schema: dict, root: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _fill(value, schema: dict, root: dict):
    schema = _resolve(schema, root)
    if not isinstance(value, dict) or not isinstance(schema, dict):
        return value
    for key, sub in (schema.get("properties") or {}).items():
        sub_r = _resolve(sub, root)
        default_from = sub if "default" in sub else sub_r  # a default beside a $ref wins
        if key not in value and "default" in default_from:
            value[key] = copy.deepcopy(default_from["default"])
        if key in value:
            value[key] = _fill(value[key], sub_r, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key in value:
            if key not in (schema.get("properties") or {}):
                value[key] = _fill(value[key], extra, root)
    return value


def _where(error) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(top level)"


def _message(error) -> str:
    """One line for the most specific of jsonschema's errors."""
    best = error
    if error.context:
        best = max(error.context, key=lambda e: len(e.absolute_path))
    where = _where(best)
    if best.validator == "additionalProperties":
        allowed = sorted((best.schema.get("properties") or {}).keys())
        extra = best.message.split("'")[1] if "'" in best.message else best.message
        key = f"{where}.{extra}" if where != "(top level)" else extra
        return f"config error: unknown key '{key}'; allowed keys here: {', '.join(allowed)}"
    desc = error.schema.get("description", "") if error.validator == "oneOf" and "$ref" not in error.schema else ""
    if desc or (error.validator == "oneOf" and where == _where(error)):
        # a value of several allowed forms (imgsz, max_drop): its own path and the forms, plus a bound it broke
        bounds = [e for e in error.context if e.validator in ("minimum", "maximum", "exclusiveMinimum")]
        bound = f" ({max(bounds, key=lambda e: len(e.absolute_path)).message})" if bounds else ""
        return f"config error at {_where(error)}: {error.instance!r} is not valid{bound}" + (f"; expected {desc}" if desc else "")
    return f"config error at {where}: {best.message}"


@functools.lru_cache(maxsize=4)
def _schema_text(path: str) -> str:
    return Path(path).read_text()


def schema(path: str | Path = SCHEMA) -> dict:
    """The schema as a dict (a fresh copy)."""
    return yaml.safe_load(_schema_text(str(path)))


@functools.lru_cache(maxsize=1)
def _defaults() -> dict:
    root = schema()
    out: dict = {}
    _fill(out, root, root)
    out.pop("models", None)
    return out


def defaults() -> dict:
    """Every config section with the schema's defaults filled in (no models); a fresh copy."""
    return copy.deepcopy(_defaults())


def default(key: str):
    """The schema's default of one config key, e.g. ``default("quantization.preset")`` -> ``"mixed"``."""
    node = _defaults()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"no default for config key '{key}' in {SCHEMA.name}")
        node = node[part]
    return copy.deepcopy(node)


def validate(config: dict, schema_path: str | Path = SCHEMA) -> dict:
    """Validate ``config`` in place (defaults filled in); raise WorkflowError with one line naming the key."""
    import jsonschema

    root = schema(schema_path)
    _fill(config, root, root)
    validator = jsonschema.Draft202012Validator(root)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)), reverse=True)
    if errors:
        raise WorkflowError(_message(errors[0]))
    return config


def load(path: str | Path) -> dict:
    """Read and validate a config file."""
    return validate(yaml.safe_load(Path(path).read_text()) or {})


def _fmt_default(value) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (int, float, str)):
        return f"`{value}`"
    return "`" + yaml.safe_dump(value, default_flow_style=True, width=10_000).strip() + "`"


def reference() -> str:
    """The configuration reference as Markdown (config/README.md is this text): every key of the schema with its
    default and its description, in the schema's order. The schema is its only source."""
    root = schema()
    rows = []

    def walk(node: dict, prefix: str) -> None:
        node = _resolve(node, root)
        props = node.get("properties") or {}
        extra = node.get("additionalProperties")
        for key, sub in props.items():
            sub_r = _resolve(sub, root)
            default = sub["default"] if "default" in sub else sub_r.get("default", "—")
            desc = sub.get("description") or sub_r.get("description") or ""
            enum = sub_r.get("enum")
            if enum and not desc:
                desc = "one of " + ", ".join(f"`{e}`" for e in enum)
            if (sub_r.get("properties") or isinstance(sub_r.get("additionalProperties"), dict)) and sub_r.get("type") == "object":
                if desc:
                    rows.append((f"{prefix}{key}", "", desc))
                walk(sub_r, f"{prefix}{key}.")
                continue
            rows.append((f"{prefix}{key}", "—" if default == "—" else _fmt_default(default), desc))
        if isinstance(extra, dict):
            walk(extra, f"{prefix}<name>.")

    walk(root, "")
    lines = ["# Configuration reference", "",
             "Every key of `config.yaml` (or of your own file given with `--configfile`), its default and what it does.",
             "Generated from the schema, `ovyolo/config.schema.yaml` (the one place a default lives), by",
             "`python -m ovyolo config-reference > config/README.md`; a test fails when this file and the schema differ.",
             "", "| key | default | meaning |", "|---|---|---|"]
    lines += [f"| `{k}` | {d} | {desc} |" for k, d, desc in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m ovyolo config-reference``: print :func:`reference`."""
    print(reference(), end="")
    return 0
