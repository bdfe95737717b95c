"""Settings that shrink a `skt run` to the tiny workflow of the tests."""

from workflow_helpers import tiny_config, write_config

SKIPPED = ("datasets", "seed", "device")


def tiny_settings(path, cv_methods=("decision_tree_pixel", "skt"), max_folds=2):
    """A --settings file: tiny_config's sections (not its dataset), CV of ``cv_methods`` over ``max_folds``."""
    config = {k: v for k, v in tiny_config().items() if k not in SKIPPED}
    # what `skt init` decides from the files stays its decision
    del config["screen"]["label_radius"], config["interpolate"]["max_distance"], config["evaluate"]["commodity"]
    del config["tiles"]["split_row"]
    config["evaluate"]["cv"].update(methods=list(cv_methods), max_folds=max_folds)
    return write_config(config, path)
