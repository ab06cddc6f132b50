"""Stages 1-2, reading and validating what users write: untrusted YAML with a source map, the spec
language (`apiVersion: mlspec/v1`) and `mlspec.yaml` as pydantic models, positioned schema errors, the
small value languages (durations, percentages, pins), declared patches, the starter spec and the JSON
Schemas editors read."""
