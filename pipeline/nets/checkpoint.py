"""Per-epoch checkpoints of the training loop, and when one may be resumed.

A checkpoint holds everything the next epoch depends on (weights, optimizer,
schedule, loss scaler, the random generators) so that a run interrupted and
resumed ends with the weights of an uninterrupted one. It is resumed only when
its ``stamp`` (``fingerprint`` of the configuration, data and device) matches
the run's; any other file at the path is left to be overwritten.
"""

import hashlib
import json
import logging
from pathlib import Path

import torch

from .files import load_torch, save_torch

#: the files' tag; the name predates pipeline.nets and is kept so existing checkpoints still resume
CHECKPOINT_KIND = "skt-checkpoint"
log = logging.getLogger(__name__)


def file_stamp(path):
    if path is None:
        return None
    st = Path(path).stat()
    return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]


def fingerprint(*parts):
    """Hash of everything that must match for a checkpoint to be resumed."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def resume(path, stamp, parts, index_gen, noise_gen, desc):
    """Load the checkpoint at ``path`` into ``parts`` ({"model", "optimizer", "scheduler",
    "scaler"}: objects with ``load_state_dict``) and the generators when its stamp is
    ``stamp``. Returns (history, epochs done): ([], 0) when there is nothing to resume."""
    if path is None or not Path(path).exists():
        return [], 0
    state = load_torch(path)
    if not (isinstance(state, dict) and state.get("kind") == CHECKPOINT_KIND and state.get("stamp") == stamp):
        log.info("%s: %s was written for another configuration or data; starting afresh", desc, path)
        return [], 0
    log.info("%s: resuming after epoch %d from %s", desc, state["epoch"], path)
    for key, part in parts.items():
        part.load_state_dict(state[key])
    index_gen.set_state(state["rng"]["index"])
    noise_gen.set_state(state["rng"]["noise"])
    torch.set_rng_state(state["rng"]["torch"])
    return list(state["history"]), int(state["epoch"])


def save_checkpoint(path, stamp, epoch, parts, index_gen, noise_gen, history):
    """Write the state after ``epoch`` epochs (atomically: a crash leaves the previous one)."""
    save_torch(path, {
        "kind": CHECKPOINT_KIND, "stamp": stamp, "epoch": epoch,
        **{key: part.state_dict() for key, part in parts.items()},
        "rng": {"index": index_gen.get_state(), "noise": noise_gen.get_state(), "torch": torch.get_rng_state()},
        "history": history})
