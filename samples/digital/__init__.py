"""Born-digital sample forms: PDFs as customers send them without printing.

`generate_digital` writes one file per case (typed into the fillable form,
with and without the appearances viewers generate; the issued PDF mailed as
it is; dates typed and a signature image pasted on; printed to PDF at
another scale; flattened; tampered with; a PDF mixing a scanned page and a
typed one) and a truth.json and issued.json beside them, for
`kopplingar bench intake` and the tests.
"""

from samples.digital.corpus import DigitalSummary, generate_digital

__all__ = ["DigitalSummary", "generate_digital"]
