"""Measurements printed by `kopplingar bench ...`, each beside a baseline from the same run."""
