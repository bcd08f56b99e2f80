"""Config validation against workflow/schemas/config.schema.yaml, with defaults and one-line errors."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ovyolo.errors import WorkflowError

SCHEMA = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


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
    if error.validator == "oneOf" and where == _where(error):
        desc = _resolve(error.schema, {}).get("description", "") if "$ref" not in error.schema else ""
        return f"config error at {where}: {error.instance!r} is not valid" + (f" ({desc})" if desc else "")
    return f"config error at {where}: {best.message}"


def validate(config: dict, schema_path: str | Path = SCHEMA) -> dict:
    """Validate ``config`` in place (defaults filled in); raise WorkflowError with one line naming the key."""
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text())
    _fill(config, schema, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)), reverse=True)
    if errors:
        raise WorkflowError(_message(errors[0]))
    return config


def load(path: str | Path) -> dict:
    """Read and validate a config file."""
    return validate(yaml.safe_load(Path(path).read_text()) or {})
