"""Selective knowledge transfer (SKT, Huang et al. 2022, section 3): what is SKT's
in the modelling half of the workflow. The readings taken of the paper are in
docs/skt_method.md.

SKT keeps its model (soft mask, dilated inputs, target networks built on the
source's kernels: model.py, transfer.py), its objective (self-distillation:
losses.py), the training of the source network and of the SKT model
(train.py, with the masked-band pretraining of the source in pretrain.py), their
model files (files.py) and the maps and window predictions of a trained model
(predict.py). What every network shares (device, tiles and batches, ResNet-18,
the training loop, checkpoints, file I/O) is ``pipeline.nets``.

Typical use (one function per workflow rule)::

    train_source(tiles_dir, source=cfg["source"], model=cfg["model"], train=cfg["train"],
                 seed=cfg["seed"], device=cfg["device"], model_path=".../source.pt", ...)
    train_skt(tiles_dir, source_path=".../source.pt", skt=cfg["skt"], model=cfg["model"],
              train=cfg["train"], seed=cfg["seed"], device=cfg["device"], model_path=".../skt.pt", ...)
    predict_map(".../skt.pt", "stack/zscore.tif", "maps/skt_probability.tif", overlap=..., batch_size=...)
    predict_tiles(".../skt.pt", tiles_dir, "maps/skt_windows.gpkg")
"""

from .files import load_skt, load_source
from .losses import distillation_losses, skt_loss
from .model import SKTModel, build_skt
from .predict import predict_map, predict_tiles, window_probabilities
from .train import train_skt, train_source

__all__ = [
    "load_skt", "load_source", "distillation_losses", "skt_loss", "SKTModel", "build_skt",
    "predict_map", "predict_tiles", "window_probabilities", "train_skt", "train_source",
]
