"""Selective knowledge transfer (SKT, Huang et al. 2022, section 3): the modelling
half of the workflow. The readings taken of the paper are in docs/skt_method.md.

Typical use (one function per workflow rule)::

    train_source(tiles_dir, source=cfg["source"], model=cfg["model"], train=cfg["train"],
                 seed=cfg["seed"], device=cfg["device"], model_path=".../source.pt", ...)
    train_skt(tiles_dir, source_path=".../source.pt", skt=cfg["skt"], model=cfg["model"],
              train=cfg["train"], seed=cfg["seed"], device=cfg["device"], model_path=".../skt.pt", ...)
    predict_map(".../skt.pt", "stack/zscore.tif", "maps/skt_probability.tif", overlap=..., batch_size=...)
    predict_tiles(".../skt.pt", tiles_dir, "maps/skt_windows.gpkg")
"""

from ..evaluation.metrics import noise_copy_counts
from .data import TileSet, align_elements, load_tiles, sample_plan
from .device import resolve_device, set_threads
from .files import load_skt, load_source
from .losses import distillation_losses, skt_loss
from .model import SKTModel, build_skt, vote
from .predict import predict_map, predict_tiles, window_probabilities
from .resnet import resnet18
from .train import train_skt, train_source

__all__ = [
    "TileSet", "align_elements", "load_tiles", "noise_copy_counts", "sample_plan",
    "resolve_device", "set_threads", "load_skt", "load_source", "distillation_losses", "skt_loss",
    "SKTModel", "build_skt", "vote", "predict_map", "predict_tiles", "window_probabilities",
    "resnet18", "train_skt", "train_source",
]
