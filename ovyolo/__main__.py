"""The command line: ``python -m ovyolo <command> ...`` (or ``ovyolo <command>`` once installed).

Commands:
  plan               identification and discovery for real, then the jobs a run will do (ovyolo.plan)
  benchmark          time a finished shape's IRs on this machine (e.g. the target device; ovyolo.measure.retime)
  predict            run a bundle or IR on images (ovyolo.deploy.predict)
  config-reference   print the configuration reference (config/README.md) from the schema
  results-page       print docs/results.md from a finished run's results/ folder
"""
from __future__ import annotations

import sys

COMMANDS = {"predict": "ovyolo.deploy.predict", "plan": "ovyolo.plan", "benchmark": "ovyolo.measure.retime", "config-reference": "ovyolo.config",
            "results-page": "ovyolo.report.results_page"}


def main(argv: list[str] | None = None) -> int:
    import importlib

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
