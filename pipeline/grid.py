"""The raster grid every stage shares: CRS, affine transform and shape.

Like torchgeo keeps CRS and bounds with every sample, a GridSpec travels with
every array so that no stage has to guess where its pixels are.
"""

from dataclasses import dataclass

import numpy as np
from affine import Affine

from .errors import InputError


@dataclass(frozen=True)
class GridSpec:
    crs: str
    transform: Affine
    width: int
    height: int

    @property
    def shape(self):
        return (self.height, self.width)

    @property
    def cell_size(self):
        return (self.transform.a, -self.transform.e)

    @property
    def bounds(self):
        """(xmin, ymin, xmax, ymax) of the outer cell edges."""
        xmin, ymax = self.transform.c, self.transform.f
        dx, dy = self.cell_size
        return (xmin, ymax - dy * self.height, xmin + dx * self.width, ymax)

    def cell_centres(self, row_start=0, row_stop=None):
        """x (width,) and y (rows,) coordinates of cell centres for a block of rows."""
        row_stop = self.height if row_stop is None else row_stop
        dx, dy = self.cell_size
        xs = self.transform.c + (np.arange(self.width) + 0.5) * dx
        ys = self.transform.f - (np.arange(row_start, row_stop) + 0.5) * dy
        return xs, ys

    def rowcol(self, x, y):
        """Integer (row, col) of the cells holding points x, y (may fall outside the grid)."""
        dx, dy = self.cell_size
        col = np.floor((np.asarray(x, dtype=float) - self.transform.c) / dx).astype(np.int64)
        row = np.floor((self.transform.f - np.asarray(y, dtype=float)) / dy).astype(np.int64)
        return row, col

    def window_bounds(self, row, col, height, width):
        """(xmin, ymin, xmax, ymax) of a pixel window."""
        dx, dy = self.cell_size
        xmin = self.transform.c + col * dx
        ymax = self.transform.f - row * dy
        return (xmin, ymax - height * dy, xmin + width * dx, ymax)

    def to_dict(self):
        return {"crs": self.crs, "transform": list(self.transform)[:6],
                "width": self.width, "height": self.height}

    @classmethod
    def from_dict(cls, d):
        return cls(d["crs"], Affine(*d["transform"]), int(d["width"]), int(d["height"]))

    @classmethod
    def from_dataset(cls, src):
        """The grid of an open rasterio dataset; ``crs`` is None where it has none."""
        return cls(src.crs.to_string() if src.crs else None, src.transform, src.width, src.height)


def near_points_mask(grid, points_xy, distance):
    """Cells of ``grid`` whose centre lies within ``distance`` (map units) of any point.

    Each point touches only the block of cells it can reach, so the cost grows
    with the points, not with the grid."""
    mask = np.zeros(grid.shape, dtype=bool)
    xy = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        return mask
    dx, dy = grid.cell_size
    reach_r, reach_c = int(np.ceil(distance / dy)) + 1, int(np.ceil(distance / dx)) + 1
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    for (x, y), r, c in zip(xy, rows, cols):
        r0, r1 = max(r - reach_r, 0), min(r + reach_r + 1, grid.height)
        c0, c1 = max(c - reach_c, 0), min(c + reach_c + 1, grid.width)
        if r0 >= r1 or c0 >= c1:
            continue
        xs, ys = grid.cell_centres(r0, r1)
        mask[r0:r1, c0:c1] |= (xs[None, c0:c1] - x) ** 2 + (ys[:, None] - y) ** 2 <= distance ** 2
    return mask


def grid_from_settings(crs, data_bounds, *, extent=None, cell_size=None, width=None,
                       height=None, padding=0.0):
    """Build the grid from config: an extent (or the data's bounds plus padding)
    divided either into square cells of ``cell_size`` or into ``width`` x ``height``
    cells.

    With width x height and no cell size, cells are square and the extent grows on
    its short side so that the data sit in the middle; this is how the paper's
    3072 x 3072 grid covers a survey that is not square.
    """
    if extent is None:
        xmin, ymin, xmax, ymax = (float(v) for v in data_bounds)
        xmin, ymin, xmax, ymax = xmin - padding, ymin - padding, xmax + padding, ymax + padding
    else:
        xmin, ymin, xmax, ymax = (float(v) for v in extent)
    if not (xmax > xmin and ymax > ymin):
        raise InputError(f"grid extent {xmin, ymin, xmax, ymax} is empty")
    span_x, span_y = xmax - xmin, ymax - ymin
    if cell_size is not None:
        size = float(cell_size)
        if width is None:
            width = int(np.ceil(span_x / size))
        if height is None:
            height = int(np.ceil(span_y / size))
    elif width is not None and height is not None:
        size = max(span_x / width, span_y / height)
    else:
        raise InputError("grid needs either cell_size or both width and height")
    # centre the data in the (possibly larger) grid
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    left = cx - width * size / 2
    top = cy + height * size / 2
    return GridSpec(crs=str(crs), transform=Affine(size, 0.0, left, 0.0, -size, top),
                    width=int(width), height=int(height))


def window_distance(grid, rows, cols, window, points_xy):
    """Distance (map units) from each window footprint to the nearest point (0 inside)."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    xy = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    out = np.full(len(rows), np.inf)
    if len(xy) == 0 or len(rows) == 0:
        return out
    dx, dy = grid.cell_size
    xmin = grid.transform.c + cols * dx
    xmax = xmin + window * dx
    ymax = grid.transform.f - rows * dy
    ymin = ymax - window * dy
    for x, y in xy:
        gx = np.maximum(np.maximum(xmin - x, x - xmax), 0.0)
        gy = np.maximum(np.maximum(ymin - y, y - ymax), 0.0)
        out = np.minimum(out, np.hypot(gx, gy))
    return out
