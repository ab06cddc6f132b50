"""Stage 4, rendering: the target plugin contract and registry (targets are found through entry points),
provenance and identities of rendered objects, declared patches and the field paths they and diffs
address, and the content-addressed memo project-wide target hooks share."""
