"""Stage 5, output: the rendered tree and its manifest, incremental rendering into a directory, the
canonical serializer and atomic writer, the repository lock and the `--out -` stream. Below deploy and
rollout: rollout state is passed down to it (the ledger), never read from those layers."""
