"""`mlspec gate`: the verdict on a candidate's metrics against the spec's evaluation gates and the
production baseline. The facts it shares with the pipeline it judges (which way a metric is better, the
bound a baseline sets) live in compiler.planning, so both sides evaluate one definition."""
