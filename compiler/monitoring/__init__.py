"""What the core knows about the running system's metrics: each serving stack's metric contract and safe
PromQL text. Shared by the prometheus target, the rollout health check and `mlspec verify`."""
