"""The one place GeoPackages are written.

GDAL 3.8+ writes GeoPackage 1.4 by default (SQLite ``user_version`` 10400).
QGIS 3.22 as Debian ships it (GDAL 3.6) opens such a file but warns "GeoPackage
v1.4.0 may only be partially supported" on every layer it loads. Nothing the
workflow writes needs 1.3 or 1.4 features, so every GeoPackage is written as 1.2
(``user_version`` 10200), which every GDAL since 2.2 and QGIS 3.x read without a
word. Callers keep their own ``atomic_path``; this only writes the file it is given.
"""

import pyogrio

#: GDAL's GPKG dataset creation option VERSION: the file's GeoPackage version.
GPKG_VERSION = "1.2"
#: SQLite ``PRAGMA user_version`` of a GeoPackage 1.2 file (major*10000 + minor*100).
GPKG_USER_VERSION = 10200
#: SQLite ``PRAGMA application_id`` of every GeoPackage: "GPKG" in ASCII.
GPKG_APPLICATION_ID = 0x47504B47


def write_gpkg(frame, path, layer, **options):
    """Write a (Geo)DataFrame as one layer of a new GeoPackage 1.2 at ``path``.

    ``options`` go to ``pyogrio.write_dataframe`` (e.g. ``layer_metadata``).
    """
    pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG",
                            dataset_options={"VERSION": GPKG_VERSION}, **options)
    return path


def gpkg_version(path):
    """(application_id, user_version) of a GeoPackage, read with SQLite; the
    user_version of GeoPackage 1.2 is 10200."""
    import sqlite3

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return (db.execute("PRAGMA application_id").fetchone()[0], db.execute("PRAGMA user_version").fetchone()[0])
