"""What every network of the workflow shares: device, data batches, ResNet-18, the
training loop, checkpoints, file I/O. SKT (``pipeline.skt``) and the CNN
baselines (``pipeline.baselines``) are built on it; it imports neither.

    device.py      device, threads, mixed precision, seeding
    tileset.py     the tiles stage's products, read by element name (TileSet, load_tiles)
    batches.py     noise-copy balancing, crops, flips, batches (Batches, sample_plan)
    splits.py      a run's train and test batches from the ``train`` config (prepare_batches)
    resnet.py      ResNet-18 with any input channels and a width multiplier
    train.py       the training loop (Task, train_step, fit, lr_scheduler)
    checkpoint.py  per-epoch checkpoints, resume, run fingerprints
    scoring.py     probabilities, per-output and vote metrics, final metrics
    metrics.py     metric records for logs and metrics files, the vote
    runinfo.py     a run's log lines and runtime entry
    files.py       PyTorch files written atomically and read with a kind check
    synthetic.py   small synthetic surveys in the tiles format, for tests and benchmarks

Nothing is imported here: a module that needs only ``load_tiles`` (``pipeline.source_pool``,
``pipeline.cv.models``) does not load the training loop with it.
"""
