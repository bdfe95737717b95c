"""The Processing provider: two algorithms under "SKT prospectivity"."""

from qgis.core import QgsProcessingProvider

from .algorithms import LoadResultsAlgorithm, ProspectivityAlgorithm


class SktProvider(QgsProcessingProvider):
    def loadAlgorithms(self):  # noqa: N802
        self.addAlgorithm(ProspectivityAlgorithm())
        self.addAlgorithm(LoadResultsAlgorithm())

    def id(self):
        return "skt"

    def name(self):
        return "SKT prospectivity"

    def longName(self):  # noqa: N802
        return "SKT prospectivity (selective knowledge transfer, Huang et al. 2022)"
