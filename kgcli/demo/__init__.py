"""`kgc demo`: the main job end to end on an embedded default (synthetic data, SmolLM2-135M, CPU)."""
