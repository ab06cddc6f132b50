"""Progressive rollout as GitOps commits: `mlspec rollout status|advance|rollback` (docs/rollout.md)."""
