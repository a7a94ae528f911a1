"""Composition root: settings, the `kopplingar` CLI and the web app assembly.

Everything here turns configuration into explicit values and hands them to
the stages in `forms`, `registry`, `render`, `intake` and `review`.
"""
