"""`skt`: the workflow from one command, for a survey nobody has written YAML for.

    skt init SURVEY --sites SITES [--crs EPSG:N] [--commodity Au] [--out DIR]
    skt run  SURVEY --sites SITES [...] [--cores N] [--gpu] [--target maps|all]
    skt status DIR
    skt open DIR

``init`` writes DIR/skt.yaml (pipeline.survey_init decides, the file says
why); ``run`` writes it when it is missing, then runs Snakemake on it with DIR
as the working directory, and prints where the maps are; ``open`` writes a
QGIS project of the maps. The logic is the workflow's: this module only
builds the Snakemake command line.

Exit codes: 0 done; 1 the workflow failed (its log says why); 2 bad input or
usage (the message names file, column and row); 130 interrupted or cancelled.
"""

import argparse
import copy
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from .errors import InputError

REPO = Path(__file__).resolve().parent.parent
SNAKEFILE = REPO / "Snakefile"
CONFIG_NAME = "skt.yaml"
EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED = 1, 2, 130
TARGETS = {"maps": ["maps"], "all": []}
#: options that only shape a new skt.yaml
CONFIG_OPTIONS = ("crs", "sites_crs", "commodity", "elements", "units", "x_column", "y_column", "layer",
                  "sites_layer", "settings")


def _survey_args(parser):
    parser.add_argument("survey", help="samples file: CSV, Excel, GeoPackage, shapefile or any GDAL vector file")
    parser.add_argument("--sites", required=True, help="known mineral sites (same formats)")
    parser.add_argument("--out", help="run folder (default: ./skt_<survey name>)")
    parser.add_argument("--name", help="dataset name (default: from the file name)")
    parser.add_argument("--crs", help="CRS of the sample coordinates when the file declares none, e.g. EPSG:32650")
    parser.add_argument("--sites-crs", help="CRS of the site coordinates (default: the file's, else the samples')")
    parser.add_argument("--commodity", action="append",
                        help="commodity element(s), e.g. Au or Cu,Au (default: from the sites' commodity column)")
    parser.add_argument("--elements", help="element columns to use, comma-separated (default: every column "
                                           "whose name is an element)")
    parser.add_argument("--units", help="units of columns whose name has none, e.g. Au=ppb,Hg=ppb (default ppm)")
    parser.add_argument("--x-column", help="x (or longitude) column, where the file has no point geometry")
    parser.add_argument("--y-column", help="y (or latitude) column")
    parser.add_argument("--layer", help="layer of the samples file (GeoPackage layer, Excel sheet)")
    parser.add_argument("--sites-layer", help="layer of the sites file")
    parser.add_argument("--settings", help="a YAML file of further settings merged into the written config "
                                           "(any section of config.yaml)")


def build_parser():
    parser = argparse.ArgumentParser(prog="skt", description="Mineral prospectivity maps with selective "
                                     "knowledge transfer (Huang et al. 2022), as a Snakemake workflow.")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="write a survey config (DIR/skt.yaml) from the files")
    _survey_args(init)
    init.add_argument("--force", action="store_true", help="overwrite an existing skt.yaml")
    run = sub.add_parser("run", help="init when DIR has no skt.yaml, then run the workflow")
    _survey_args(run)
    run.add_argument("--cores", default="all", help="cores Snakemake may use (default: all)")
    run.add_argument("--gpu", action="store_true", help="train on the GPU (device: cuda)")
    run.add_argument("--target", choices=sorted(TARGETS), default="maps",
                     help="maps: the SKT map, references and cross-validation spreads (default); all: every table "
                          "and the report as well")
    run.add_argument("--dry-run", action="store_true", help="show what would run")
    run.add_argument("--reinit", action="store_true", help="write skt.yaml anew from the files and options")
    status = sub.add_parser("status", help="what a run folder holds and what is left to run")
    status.add_argument("dir")
    open_ = sub.add_parser("open", help="write DIR/<dataset>.qgs: the maps styled, in groups")
    open_.add_argument("dir")
    open_.add_argument("--json", action="store_true", help="also print the layers (group, name, path, kind, "
                                                          "layer, style) as JSON, one object per line")
    return parser


def _split(values, spaces=False):
    """Items of comma- or semicolon-separated options (also space-separated with ``spaces``: element symbols,
    never column names, which may hold spaces)."""
    pattern = r"[,;\s]+" if spaces else r"[,;]"
    return [v.strip() for v in re.split(pattern, ",".join(values)) if v.strip()] if values else None


def _units(text):
    if not text:
        return None
    units = {}
    for item in _split([text]):
        key, sep, unit = item.partition("=")
        if not sep or not key.strip() or not unit.strip():
            raise InputError(f"--units takes ELEMENT=UNIT pairs (e.g. Au=ppb), got {item!r}")
        units[key.strip()] = unit.strip()
    return units


def deep_merge(base, extra):
    out = copy.deepcopy(base)
    for key, value in (extra or {}).items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else \
            copy.deepcopy(value)
    return out


def run_folder(args, name):
    return Path(args.out) if args.out else Path.cwd() / f"skt_{name}"


def write_survey_config(args):
    """Decide and write DIR/skt.yaml; returns (path, notes)."""
    from .config import validate_config
    from .survey_init import config_text, dataset_name, init_survey

    name = dataset_name(args.survey, args.name)
    folder = run_folder(args, name)
    path = folder / CONFIG_NAME
    config, notes = init_survey(args.survey, args.sites, name=name, crs=args.crs, sites_crs=args.sites_crs,
                                commodity=_split(args.commodity, spaces=True), elements=_split([args.elements] if args.elements
                                                                                    else None),
                                x_column=args.x_column, y_column=args.y_column, samples_layer=args.layer,
                                sites_layer=args.sites_layer)
    units = _units(args.units)
    if units:
        config["datasets"][name]["units"] = units
    if args.settings:
        extra = yaml.safe_load(Path(args.settings).read_text()) or {}
        if not isinstance(extra, dict):
            raise InputError("--settings must hold a mapping of config sections", path=args.settings)
        config = deep_merge(config, extra)
        notes.append(f"merged: {Path(args.settings).resolve()}")
    validate_config(copy.deepcopy(config), source=str(path))
    folder.mkdir(parents=True, exist_ok=True)
    from .atomic import write_text

    write_text(path, config_text(config, notes))
    return path, notes


def _config_of(folder):
    path = Path(folder) / CONFIG_NAME
    if not path.exists():
        raise InputError(f"no {CONFIG_NAME} here: `skt init` or `skt run` writes it", path=folder)
    return path, yaml.safe_load(path.read_text())


def snakemake_command(folder, config_path, *, cores="all", gpu=False, targets=(), extra=()):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "-d", str(folder), "--configfile",
           str(config_path), "--cores", str(cores), "--resources", "gpu=1", "--rerun-incomplete"]
    if gpu:
        cmd += ["--config", "device=cuda"]
    return cmd + list(extra) + list(targets)


def _environment(folder):
    env = dict(os.environ)
    cache = env.get("XDG_CACHE_HOME")
    if not cache or not os.access(cache, os.W_OK):
        env["XDG_CACHE_HOME"] = str(Path(folder).resolve() / ".cache")
    return env


def run_snakemake(cmd, env):
    """Run Snakemake with its output on ours. It runs in a process group of its own, and each SIGINT or SIGTERM
    this process receives reaches that group as one SIGINT: Snakemake then stops its jobs at once, and the next
    run (--rerun-incomplete) redoes what they had not finished; the workflow writes every file under a
    temporary name first, so none is left half-written. A SIGTERM to Snakemake with its output on a pipe (as
    the QGIS plugin reads it) was seen to leave it waiting on a lock for good; SIGINT ends it in seconds.
    Returns its exit status."""
    proc = subprocess.Popen(cmd, env=env, process_group=0)
    received = []

    def forward(signum, frame):
        received.append(signum)
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = proc.wait()
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    return EXIT_INTERRUPTED if received else status


def map_files(folder, dataset):
    base = Path(folder) / "results" / dataset / "maps"
    return sorted(base.rglob("*.tif")) if base.exists() else []


def cmd_init(args):
    from .survey_init import dataset_name

    name = dataset_name(args.survey, args.name)
    path = run_folder(args, name) / CONFIG_NAME
    if path.exists() and not args.force:
        raise InputError(f"{CONFIG_NAME} exists already: edit it, or pass --force to write it anew", path=path)
    path, notes = write_survey_config(args)
    print("\n".join(notes))
    print(f"wrote {path}")
    return 0


def cmd_run(args):
    from .survey_init import dataset_name

    name = dataset_name(args.survey, args.name)
    folder = run_folder(args, name)
    path = folder / CONFIG_NAME
    if path.exists() and not args.reinit:
        print(f"using {path} (edit it to change a choice; --reinit writes it anew)")
        given = [f"--{k.replace('_', '-')}" for k in CONFIG_OPTIONS if getattr(args, k)]
        if given:
            print(f"note: {', '.join(given)} shape a new skt.yaml only; the existing one is used as it is "
                  "(pass --reinit to write it anew from them)", file=sys.stderr)
    else:
        path, notes = write_survey_config(args)
        print("\n".join(notes))
        print(f"wrote {path}")
    _, config = _config_of(folder)
    env = _environment(folder)
    extra = ["--dry-run"] if args.dry_run else []
    status = run_snakemake(snakemake_command(folder, path, cores=args.cores, gpu=args.gpu,
                                             targets=TARGETS[args.target], extra=extra), env)
    if status == EXIT_INTERRUPTED:
        print("interrupted: no file is left half-written; `skt run` again redoes only the unfinished jobs",
              file=sys.stderr)
        return status
    if status != 0:
        print(f"the workflow failed (exit {status}): see the messages above and results/*/logs in {folder}",
              file=sys.stderr)
        return EXIT_FAILED
    if not args.dry_run:
        for dataset in config["datasets"]:
            print(f"maps of {dataset}:")
            for tif in map_files(folder, dataset):
                print(f"  {tif}")
        print(f"open them in QGIS: skt open {folder}")
    return 0


def pending_jobs(folder, config_path, env, targets=("maps",)):
    """(jobs a run would still do, or None when Snakemake cannot tell, its message)."""
    result = subprocess.run(snakemake_command(folder, config_path, targets=targets, extra=["--dry-run"]), env=env,
                            capture_output=True, text=True)
    text = result.stdout + result.stderr
    if result.returncode != 0:
        return None, text.strip().splitlines()[-1] if text.strip() else f"exit {result.returncode}"
    if "Nothing to be done" in text:
        return 0, "complete"
    match = re.search(r"^total\s+(\d+)", text, flags=re.MULTILINE)
    return (int(match.group(1)), "to run") if match else (None, "unknown")


def cmd_status(args):
    folder = Path(args.dir)
    path, config = _config_of(folder)
    env = _environment(folder)
    locked = any((folder / ".snakemake" / "locks").glob("*")) if (folder / ".snakemake" / "locks").exists() else False
    print(f"config: {path}")
    for target, label in (("maps", "maps"), ("all", "everything")):
        jobs, message = pending_jobs(folder, path, env, TARGETS[target])
        state = "complete" if jobs == 0 else (f"{jobs} jobs to run" if jobs is not None else message)
        print(f"{label}: {state}")
    if locked:
        print("a run is in progress (or was killed: `skt run` again unlocks after it)")
    for dataset in config["datasets"]:
        tifs = map_files(folder, dataset)
        print(f"{dataset}: {len(tifs)} maps")
        for tif in tifs:
            print(f"  {tif.relative_to(folder)}")
    return 0


def cmd_open(args):
    import json

    from .qgis_project import ensure_style, run_layers, write_project

    folder = Path(args.dir)
    _, config = _config_of(folder)
    for dataset in config["datasets"]:
        print(f"wrote {write_project(folder, dataset)}")
        if args.json:
            for layer in run_layers(folder, dataset):
                style = ensure_style(layer.path) if layer.kind == "raster" else None
                print(json.dumps({"dataset": dataset, "group": layer.group, "name": layer.name,
                                  "path": str(Path(layer.path).resolve()), "kind": layer.kind, "layer": layer.layer,
                                  "style": str(style.resolve()) if style is not None else None}))
    return 0


COMMANDS = {"init": cmd_init, "run": cmd_run, "status": cmd_status, "open": cmd_open}


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"skt {args.command}: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
