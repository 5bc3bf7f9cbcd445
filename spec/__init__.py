"""Normative spec: rules (rules.md), mechanism catalogue, schemas, stress scenarios."""
from pathlib import Path

SPEC_DIR = Path(__file__).resolve().parent
MECHANISMS_DIR = SPEC_DIR / "mechanisms"
SCHEMAS_DIR = SPEC_DIR / "schemas"
SCENARIOS_DIR = SPEC_DIR / "scenarios"
