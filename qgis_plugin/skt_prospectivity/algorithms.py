"""The two Processing algorithms. They build an `skt` command line and read its output; every decision
(columns, CRS, elements, commodity, settings) is the workflow's, written to the run folder's skt.yaml."""

import hashlib
import os
import re
from pathlib import Path

from qgis.core import (QgsProcessing, QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingException,
                       QgsProcessingOutputFile, QgsProcessingOutputFolder, QgsProcessingOutputMultipleLayers,
                       QgsProcessingParameterBoolean, QgsProcessingParameterCrs, QgsProcessingParameterEnum,
                       QgsProcessingParameterField, QgsProcessingParameterFile,
                       QgsProcessingParameterFolderDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterString, QgsProcessingParameterVectorLayer, QgsRasterLayer,
                       QgsVectorFileWriter, QgsVectorLayer)

from .runner import SktNotFound, find_skt, result_layers, run_streaming

TARGETS = ["maps", "all"]


def _skt(algorithm, parameters, context):
    given = algorithm.parameterAsFile(parameters, "SKT", context) or None
    try:
        return find_skt(given)
    except SktNotFound as exc:
        raise QgsProcessingException(str(exc)) from None


def _digest(layer):
    """A fingerprint of the layer's CRS, fields and features: an unchanged layer is not written again, so the
    workflow (which reruns on a newer input file) keeps what it made from it."""
    digest = hashlib.sha256(layer.crs().toWkt().encode())
    digest.update("|".join(f.name() for f in layer.fields()).encode())
    for feature in layer.getFeatures():
        digest.update(feature.geometry().asWkt(17).encode())
        digest.update(repr(feature.attributes()).encode())
    return digest.hexdigest()


def _export(layer, path, name, context):
    """The layer's features as a GeoPackage (any provider: delimited text, memory, a file), written only when
    they differ from the last export."""
    stamp = path.with_suffix(".sha256")
    digest = _digest(layer)
    if path.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return path
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = name
    result = QgsVectorFileWriter.writeAsVectorFormatV3(layer, str(path), context.transformContext(), options)
    if result[0] != QgsVectorFileWriter.NoError:
        raise QgsProcessingException(f"could not write {path}: {result[1]}")
    stamp.write_text(digest + "\n")
    return path


def load_layers(skt, folder, context, feedback):
    """Adds the run's layers (styled by their .qml sidecars) to the project when the algorithm ends."""
    loaded = []
    try:
        layers = result_layers(skt, folder)
    except RuntimeError as exc:
        raise QgsProcessingException(str(exc)) from None
    for item in layers:
        name = f"{item['group']}: {item['name']}"
        if item["kind"] == "raster":
            layer = QgsRasterLayer(item["path"], name, "gdal")
            if layer.isValid() and item.get("style"):
                layer.loadNamedStyle(item["style"])
        else:
            layer = QgsVectorLayer(f"{item['path']}|layername={item['layer']}", name, "ogr")
        if not layer.isValid():
            feedback.reportError(f"could not open {item['path']}")
            continue
        context.temporaryLayerStore().addMapLayer(layer)
        context.addLayerToLoadOnCompletion(layer.id(), QgsProcessingContext.LayerDetails(name, context.project(),
                                                                                         "LAYERS"))
        loaded.append(item["path"])
    return loaded


class ProspectivityAlgorithm(QgsProcessingAlgorithm):
    def name(self):
        return "prospectivity"

    def displayName(self):  # noqa: N802
        return "Prospectivity map from a survey"

    def group(self):
        return ""

    def groupId(self):  # noqa: N802
        return ""

    def shortHelpString(self):  # noqa: N802
        return ("Runs the SKT workflow on a point layer of geochemical samples and a point layer of known mineral "
                "sites, in the workflow's own environment, and loads the styled prospectivity, uncertainty and "
                "reference maps. Every choice is written to skt.yaml in the output folder: edit it and run again "
                "to change one; finished stages are not rerun. Cancel stops the run and leaves no half-written "
                "file.")

    def createInstance(self):  # noqa: N802
        return ProspectivityAlgorithm()

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterVectorLayer("INPUT", "Survey samples",
                                                            [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField("FIELDS", "Element fields (empty: every field named after an "
                                                      "element)", parentLayerParameterName="INPUT",
                                                      allowMultiple=True, optional=True))
        self.addParameter(QgsProcessingParameterVectorLayer("SITES", "Known mineral sites",
                                                            [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterString("COMMODITY", "Commodity element(s), e.g. Au or Cu,Au (empty: "
                                                       "from the sites' commodity field)", optional=True))
        self.addParameter(QgsProcessingParameterString("UNITS", "Units of element fields whose name has none, e.g. "
                                                       "Au=ppb,Hg=ppb (default ppm)", optional=True))
        self.addParameter(QgsProcessingParameterCrs("CRS", "CRS of the samples (empty: the layer's)",
                                                    optional=True))
        self.addParameter(QgsProcessingParameterNumber("CORES", "Cores", QgsProcessingParameterNumber.Integer,
                                                       defaultValue=os.cpu_count() or 1, minValue=1))
        self.addParameter(QgsProcessingParameterEnum("TARGET", "What to make", ["maps", "every table and the report"],
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean("GPU", "Train on the GPU", defaultValue=False))
        self.addParameter(QgsProcessingParameterFile("SETTINGS", "Further settings (YAML, optional)", optional=True,
                                                     fileFilter="YAML (*.yaml *.yml)"))
        self.addParameter(QgsProcessingParameterFile("SKT", "skt executable (empty: found automatically)",
                                                     optional=True))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"))
        self.addOutput(QgsProcessingOutputMultipleLayers("LAYERS", "Maps"))
        self.addOutput(QgsProcessingOutputFile("PROJECT", "QGIS project of the run"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        skt = _skt(self, parameters, context)
        samples = self.parameterAsVectorLayer(parameters, "INPUT", context)
        sites = self.parameterAsVectorLayer(parameters, "SITES", context)
        folder = Path(self.parameterAsString(parameters, "OUTPUT_FOLDER", context))
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", samples.name()).strip("_") or "survey"
        inputs = folder / "input"
        inputs.mkdir(parents=True, exist_ok=True)
        samples_path = _export(samples, inputs / f"{name}_samples.gpkg", "samples", context)
        sites_path = _export(sites, inputs / f"{name}_sites.gpkg", "sites", context)
        args = [skt, "run", str(samples_path), "--sites", str(sites_path), "--out", str(folder), "--name", name,
                "--cores", str(self.parameterAsInt(parameters, "CORES", context)),
                "--target", TARGETS[self.parameterAsEnum(parameters, "TARGET", context)]]
        crs = self.parameterAsCrs(parameters, "CRS", context)
        if crs.isValid():
            args += ["--crs", crs.authid()]
        fields = self.parameterAsFields(parameters, "FIELDS", context)
        if fields:
            args += ["--elements", ",".join(fields)]
        commodity = self.parameterAsString(parameters, "COMMODITY", context).strip()
        if commodity:
            args += ["--commodity", commodity]
        units = self.parameterAsString(parameters, "UNITS", context).strip()
        if units:
            args += ["--units", units]
        settings = self.parameterAsFile(parameters, "SETTINGS", context)
        if settings:
            args += ["--settings", settings]
        if self.parameterAsBool(parameters, "GPU", context):
            args.append("--gpu")
        feedback.pushCommandInfo(" ".join(args))
        status, cancelled = run_streaming(args, on_line=feedback.pushConsoleInfo, on_progress=feedback.setProgress,
                                          is_cancelled=feedback.isCanceled)
        if cancelled:
            raise QgsProcessingException("cancelled: the finished stages are kept; run again to continue")
        if status != 0:
            raise QgsProcessingException(f"the workflow stopped (exit {status}): see the log above")
        loaded = load_layers(skt, folder, context, feedback)
        return {"OUTPUT_FOLDER": str(folder), "LAYERS": loaded, "PROJECT": str(next(folder.glob("*.qgs"), ""))}


class LoadResultsAlgorithm(QgsProcessingAlgorithm):
    def name(self):
        return "load_results"

    def displayName(self):  # noqa: N802
        return "Load results"

    def shortHelpString(self):  # noqa: N802
        return ("Loads the styled maps of a finished run folder (one with skt.yaml) and writes its QGIS project "
                "file, the maps in groups.")

    def createInstance(self):  # noqa: N802
        return LoadResultsAlgorithm()

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile("FOLDER", "Run folder", behavior=QgsProcessingParameterFile.Folder))
        self.addParameter(QgsProcessingParameterFile("SKT", "skt executable (empty: found automatically)",
                                                     optional=True))
        self.addOutput(QgsProcessingOutputMultipleLayers("LAYERS", "Maps"))
        self.addOutput(QgsProcessingOutputFolder("OUTPUT_FOLDER", "Run folder"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        skt = _skt(self, parameters, context)
        folder = Path(self.parameterAsFile(parameters, "FOLDER", context))
        return {"OUTPUT_FOLDER": str(folder), "LAYERS": load_layers(skt, folder, context, feedback)}
