"""Demo registry, sample forms and their generators."""
