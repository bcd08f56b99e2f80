"""Put the repository root (which holds the ``ovyolo`` package) first on sys.path.

Snakemake adds this scripts folder to a job's sys.path; every script imports this module first, so jobs
find the package wherever they run (locally or through an executor on a shared file system).
"""
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
