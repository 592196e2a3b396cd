"""Training ContrastiveVAE-DEC: settings, batching, the stage loop, passes, checkpoints.

- ``settings``: a stage's typed settings from its YAML (the only place defaults live)
- ``batching``: line-grouped batches, planned once per epoch
- ``stages``: the three stages, one function each (pretrain, initialise_clusters,
  train_jointly), run by the pipeline nodes and the stability members alike
- ``loop``: the stage loop (epochs, steps, validation)
- ``clustering``: what DEC adds to the loop (target, re-seeding, convergence, collapse)
- ``optimiser``: flat parameters, fused Adam, cosine schedule, clipping
- ``passes``: whole-data forward passes (embedding, soft assignment, validation loss)
- ``progress``: history, best checkpoint, resuming; ``checkpoints``: weights-only files
- ``cluster_init``: k-means centres; ``tracking``: MLflow
"""
