"""Load and check the workflow configuration.

The schema (workflow/schemas/config.schema.yaml) holds every key with its range
and default; this module adds the checks a schema cannot express and resolves
the per-dataset view that rules read through ``params:``.
"""

import copy
from pathlib import Path

import jsonschema
import yaml

from .errors import InputError

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"
SECTIONS = ("prepare", "screen", "interpolate", "stack", "tiles", "source", "skt", "model", "train", "predict",
            "baselines", "learners", "evaluate")


def load_schema(path=SCHEMA_PATH):
    # libyaml's loader when PyYAML has it: the schema is read on every start, a no-op rerun included
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(Path(path).read_text(), Loader=loader)


def _filling_validator(schema):
    """A validator that writes each missing property's default into the instance."""
    base = jsonschema.Draft202012Validator

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    cls = jsonschema.validators.extend(base, {"properties": set_defaults})
    return cls(schema)


def _message(error, source):
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"{source}: invalid configuration at '{where}': {error.message}"


#: results/regions/ and results/pooled/ hold the cross-survey tables, so no dataset may take those names
RESERVED_NAMES = ("regions", "pooled")


def validate_config(config, source="config", schema=None):
    """Validate ``config`` in place, filling defaults; raise InputError on the first problem.

    Per-dataset ``settings`` are checked without filling defaults, so that they
    override only the keys they name.
    """
    schema = schema or load_schema()
    if not isinstance(config, dict):
        raise InputError(f"{source}: the configuration must be a mapping, got {type(config).__name__}")
    overrides = {}
    for name, entry in (config.get("datasets") or {}).items():
        if isinstance(entry, dict) and "settings" in entry:
            overrides[name] = entry.pop("settings")
    errors = sorted(_filling_validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise InputError(_message(errors[0], source))
    settings_validator = jsonschema.Draft202012Validator(
        dict(schema["$defs"]["settings"], **{"$defs": schema["$defs"]}))
    for name, settings in overrides.items():
        for error in settings_validator.iter_errors(settings):
            error.path.extendleft(["datasets", name, "settings"][::-1])
            raise InputError(_message(error, source))
        config["datasets"][name]["settings"] = settings
    for reserved in RESERVED_NAMES:
        if reserved in config["datasets"]:
            raise InputError(f"{source}: datasets: '{reserved}' is reserved for a cross-survey table "
                             f"(results/{reserved}/); rename that dataset")
    for name in config["datasets"]:
        config["datasets"][name].setdefault("settings", {})
        check_consistency(dataset_config(config, name), config, name, source)
    return config


def check_consistency(view, config, name, source="config"):
    """Cross-key rules the schema cannot express."""
    where = f"{source}: dataset '{name}'"
    interp, tiles, train, skt, src = (view[k] for k in ("interpolate", "tiles", "train", "skt", "source"))
    if interp["cell_size"] is None and (interp["width"] is None or interp["height"] is None):
        raise InputError(f"{where}: interpolate needs cell_size or both width and height")
    known = {k: v for k, v in (("window", tiles["window"]), ("stride", tiles["stride"]), ("crop", train["crop"]))
             if v != "auto"}     # "auto" is resolved from the data (pipeline.window_plan)
    if {"stride", "window"} <= known.keys() and tiles["stride"] > tiles["window"]:
        raise InputError(f"{where}: tiles.stride ({tiles['stride']}) exceeds tiles.window ({tiles['window']})")
    if {"crop", "window"} <= known.keys() and train["crop"] > tiles["window"]:
        raise InputError(f"{where}: train.crop ({train['crop']}) exceeds tiles.window ({tiles['window']})")
    if skt["dilation"] and "crop" in known and skt["dilations"] != "auto":
        smallest = train["crop"] - 2 * max(skt["dilations"])
        if smallest < 8:
            raise InputError(
                f"{where}: the largest dilation {max(skt['dilations'])} leaves a {smallest}-pixel feature "
                f"map from {train['crop']}-pixel crops; use smaller skt.dilations or larger crops")
    if src["task"] == "dataset":
        if src["dataset"] not in config["datasets"]:
            raise InputError(f"{where}: source.dataset {src['dataset']!r} is not a dataset in this config "
                             f"(known: {', '.join(config['datasets'])})")
        if src["dataset"] == name:
            raise InputError(f"{where}: source.dataset names the dataset itself; use source.task: self")
    if src["task"] == "datasets":
        if not src["datasets"]:
            raise InputError(f"{where}: source.task is 'datasets' but source.datasets is empty")
        unknown = [d for d in src["datasets"] if d not in config["datasets"]]
        if unknown:
            raise InputError(f"{where}: source.datasets {unknown} are not datasets in this config "
                             f"(known: {', '.join(config['datasets'])})")
        if name in src["datasets"]:
            raise InputError(f"{where}: source.datasets names the dataset itself: its own sites would label the "
                             "source that its held-out sites are judged against")
    if src["task"] == "checkpoint" and not src["checkpoint"]:
        raise InputError(f"{where}: source.task is 'checkpoint' but source.checkpoint is not set")


def load_config(path):
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError(f"configuration file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    return validate_config(config, source=str(path))


def _deep_update(base, override):
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_update(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def dataset_config(config, name):
    """The settings one dataset runs with: global sections updated by its own
    ``settings``, every mapping's keys in sorted order."""
    try:
        entry = config["datasets"][name]
    except KeyError:
        raise InputError(f"no dataset named {name!r} in the configuration "
                         f"(known: {', '.join(config.get('datasets', {}))})") from None
    view = {section: _deep_update(config[section], entry.get("settings", {}).get(section, {}))
            for section in SECTIONS}
    view["dataset"] = {k: v for k, v in entry.items() if k != "settings"}
    view["seed"] = config["seed"]
    view["device"] = config["device"]
    # Snakemake compares params as text: the same settings written in another
    # key order (or filled from the schema's defaults) must not rerun anything
    return _sorted_keys(view)


def _sorted_keys(value):
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def write_effective_config(view, path, *, dataset):
    """Write one dataset's effective settings (``dataset_config``'s view: the config files overlaid on the
    schema's defaults) as YAML under a header saying so."""
    from .atomic import write_text

    head = [f"# Effective settings of dataset {dataset!r}: the config files of the run, every key they leave out",
            "# filled in from workflow/schemas/config.schema.yaml. Written by the workflow (rule effective_config)."]
    write_text(path, "\n".join(head) + "\n" + yaml.safe_dump(view, sort_keys=False, allow_unicode=True))
    return path
