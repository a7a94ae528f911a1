"""One module per CLI group; `kopplingar.cli` wires them together."""
