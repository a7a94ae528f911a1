"""Demo registry, sample forms and their generators."""

from pathlib import Path

REGISTRY_JSON = Path(__file__).parent / "registry.json"

# Signs the QR codes of the simulated scans in samples/scans/ (and nothing else):
# a test or bench that reads those scans checks their macs with this key.
# Never configure it as a deployment's QR key.
SAMPLE_QR_KEY = b"samples-only-qr-key-for-simulated-scans-never-use-in-production"
