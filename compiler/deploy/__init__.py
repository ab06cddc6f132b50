"""The deployment repository: commit rendered trees with git, diff trees per resource, detect drift.

Everything here is library code called by the thin click commands in `compiler.deploy.cli`; gitpython
is imported inside functions so `mlspec lint` never pays for it.
"""
