"""Runs the plugin's algorithms inside real QGIS (the system Python), headless; writes a JSON record.

    python3 qgis_plugin_driver.py PLUGIN_PARENT REQUEST.json OUT.json

REQUEST: {"algorithm": "skt:prospectivity" | "skt:load_results", "parameters": {...},
          "samples": {uri, provider}, "sites": {uri, provider}, "cancel_at_percent": null | number}
"""

import json
import sys
import time

from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, \
    QgsProject, QgsVectorLayer

QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
sys.path.append("/usr/share/qgis/python/plugins")
from processing.core.Processing import Processing  # noqa: E402

Processing.initialize()
sys.path.insert(0, sys.argv[1])
from skt_prospectivity.provider import SktProvider  # noqa: E402

with open(sys.argv[2]) as f:
    request = json.load(f)
provider = SktProvider()   # held: QGIS drops a provider whose Python object is collected
QgsApplication.processingRegistry().addProvider(provider)
project = QgsProject.instance()
parameters = dict(request["parameters"])
for key in ("samples", "sites"):
    if key in request:
        layer = QgsVectorLayer(request[key]["uri"], key, request[key]["provider"])
        assert layer.isValid(), request[key]
        project.addMapLayer(layer)
        parameters["INPUT" if key == "samples" else "SITES"] = layer.id()


class Feedback(QgsProcessingFeedback):
    def __init__(self, cancel_at):
        super().__init__()
        self.cancel_at, self.lines, self.percents, self.cancelled_at, self.errors = cancel_at, [], [], None, []

    def pushConsoleInfo(self, info):  # noqa: N802
        self.lines.append(info)

    def reportError(self, error, fatalError=False):  # noqa: N802, N803 (QGIS reports a failed run here)
        self.errors.append(error)

    def setProgress(self, percent):  # noqa: N802
        self.percents.append(percent)
        if self.cancel_at is not None and percent >= self.cancel_at and self.cancelled_at is None:
            self.cancelled_at = time.monotonic()
            self.cancel()


feedback = Feedback(request.get("cancel_at_percent"))
context = QgsProcessingContext()
context.setProject(project)
algorithm = QgsApplication.processingRegistry().createAlgorithmById(request["algorithm"])
out = {"qgis": QgsApplication.instance().applicationVersion() if hasattr(QgsApplication, "applicationVersion") else ""}
start = time.monotonic()
try:
    results, ok = algorithm.run(parameters, context, feedback)
    out.update(ok=bool(ok), results={k: v for k, v in results.items()})
    if feedback.errors:
        out["error"] = "\n".join(feedback.errors)
except QgsProcessingException as exc:
    out.update(ok=False, error=str(exc))
out["seconds"] = time.monotonic() - start
out["seconds_after_cancel"] = time.monotonic() - feedback.cancelled_at if feedback.cancelled_at else None
out["lines"] = feedback.lines[-200:]
out["percents"] = feedback.percents
layers = []
for layer_id, details in context.layersToLoadOnCompletion().items():
    layer = context.getMapLayer(layer_id)
    record = {"name": details.name, "valid": bool(layer and layer.isValid()), "source": layer.source() if layer else None}
    if layer is not None and layer.type() == layer.RasterLayer:
        renderer = layer.renderer()
        record.update(renderer=renderer.type(), crs=layer.crs().authid())
        if renderer.type() == "singlebandpseudocolor":
            record.update(vmin=renderer.classificationMin(), vmax=renderer.classificationMax())
    elif layer is not None:
        record.update(features=layer.featureCount(), crs=layer.crs().authid())
    layers.append(record)
out["layers"] = layers
with open(sys.argv[3], "w") as f:
    json.dump(out, f, indent=1)
app.exitQgis()
