"""QGIS plugin: the SKT workflow as a Processing provider."""


def classFactory(iface):  # noqa: N802 (QGIS's name)
    from .plugin import SktPlugin

    return SktPlugin(iface)
