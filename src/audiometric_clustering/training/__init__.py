"""Training ContrastiveVAE-DEC: settings, batching, the stage loop, passes, checkpoints.

- ``settings``: a stage's typed settings from its YAML (the only place defaults live)
- ``batching``: line-grouped batches, planned once per epoch
- ``loop``: the stage loop (steps, validation, DEC target, early stopping, collapse)
- ``optimiser``: flat parameters, fused Adam, cosine schedule, clipping
- ``passes``: whole-data forward passes (embedding, soft assignment, validation loss)
- ``progress``: history, best checkpoint, resuming; ``checkpoints``: weights-only files
- ``cluster_init``: k-means centres; ``diagnostics``: collapse; ``tracking``: MLflow
"""
