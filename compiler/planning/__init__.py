"""Stage 3, planning: the frozen, fully defaulted, target-neutral Plan of one model, and the facts every
target derives from it the same way: serving names, the feature store environment, which way a gate
metric is better and the bound a baseline gate sets."""
