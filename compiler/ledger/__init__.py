"""The deployment repository's own records next to the manifest: the rollout state (which stage each
model's environment serves) and the hash-chained audit log of every transition.

Formats, reading and verification only: no git and no targets. Rendering (compiler.output.tree), the
deployment repository (compiler.deploy) and the rollout engine (compiler.rollout) all read them from
here, so none of those layers has to import a layer above it (docs/rollout.md).
"""
