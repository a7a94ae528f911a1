"""Demo registry, sample forms and their generators."""

from pathlib import Path

REGISTRY_JSON = Path(__file__).parent / "registry.json"
