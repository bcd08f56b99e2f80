"""The script of every rule: runs ``ovyolo.stages.<rule>`` (the rule's name) through ``ovyolo.smk.run``, which logs
to the rule's log, sets its threads, keeps the job offline and turns errors into one line."""
from ovyolo.smk import run

run(snakemake)  # noqa: F821
