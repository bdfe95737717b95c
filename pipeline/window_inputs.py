"""What a model sees of the stack: element bands with nodata filled, and a
validity band. One implementation for the training windows (``tiles``), every
dense map and every baseline, so a model never meets inputs at prediction that
differ from those it learnt on.

Nodata is filled with each band's ``fill`` value, which the stack stage records
(the band's median after transform and scaling): filling with 0 after z-scoring
raw, skewed concentrations made unsampled ground look enriched. The validity
band (named ``VALIDITY``) is 1 where every band of the stack holds data and 0
elsewhere, so a model can tell filled cells from measured ones.
"""

import numpy as np

from .errors import InputError

#: name of the validity channel among a model's inputs
VALIDITY = "valid"


def element_names(names):
    """The input names that are stack bands (all but the validity band)."""
    return [n for n in names if n != VALIDITY]


def input_names(elements, validity_band):
    """A model's input channels: the elements, then the validity band when used."""
    elements = element_names(elements)
    return elements + [VALIDITY] if validity_band else elements


def band_names(src):
    return [d or f"band{i}" for i, d in enumerate(src.descriptions, start=1)]


def band_indexes(src, elements, path=None):
    """1-based stack band of each element name; an error names what is missing."""
    names = band_names(src)
    missing = [e for e in elements if e not in names]
    if missing:
        raise InputError(f"the stack has no band named {missing} (bands: {names}); the model needs "
                         f"{list(elements)}", path=path)
    return [names.index(e) + 1 for e in elements]


def fill_values(src, bands):
    """Each band's nodata fill from the stack's tags (0, the z-score mean, for a
    stack written before fills were recorded)."""
    return np.array([float(src.tags(b).get("fill", 0.0)) for b in bands], dtype=np.float32)


def fill_block(block, fill, valid=None):
    """(bands, rows, cols) masked array -> float32 with each band's masked cells set
    to its ``fill``; with ``valid`` (rows, cols) bool, a last channel holding it."""
    data = np.ma.getdata(block).astype(np.float32, copy=True)
    mask = np.ma.getmaskarray(block)
    fill = np.asarray(fill, dtype=np.float32).reshape(-1, 1, 1)
    np.copyto(data, np.broadcast_to(fill, data.shape), where=mask)
    if valid is None:
        return data
    return np.concatenate([data, np.asarray(valid, dtype=np.float32)[None]])


def read_inputs(src, names, window, path=None):
    """The model inputs ``names`` (elements, optionally ``VALIDITY``) over a
    rasterio ``window`` of the open stack, as float32 (len(names), rows, cols),
    plus the (rows, cols) mask of cells where every stack band is nodata.

    Cells outside the raster (a window past its edge) read as nodata.
    """
    names = list(names)
    bands = band_indexes(src, element_names(names), path)
    # every band once: the validity band needs all their masks, and reading the
    # masks apart would decompress the stack a second time
    stack = src.read(window=window, masked=True, boundless=_past_edge(src, window), fill_value=src.nodata)
    inputs, _, empty = block_inputs(stack, names, bands, fill_values(src, bands))
    return inputs, empty


def block_inputs(stack, names, bands, fills):
    """``read_inputs`` on a block already read: ``stack`` (all bands, rows, cols) masked, ``bands`` the 1-based
    band of each element of ``names``, ``fills`` their fill values. Returns (inputs, valid, empty): ``valid``
    where every band holds data, ``empty`` where none does."""
    missing = np.ma.getmaskarray(stack)
    valid = ~missing.any(axis=0)
    empty = missing.all(axis=0)
    filled = fill_block(stack[[b - 1 for b in bands]], fills)
    if VALIDITY not in names:
        return filled, valid, empty
    out = np.empty((len(names), *filled.shape[1:]), dtype=np.float32)
    positions = [i for i, n in enumerate(names) if n != VALIDITY]
    out[positions] = filled
    out[names.index(VALIDITY)] = valid
    return out, valid, empty


def _past_edge(src, window):
    return (window.col_off < 0 or window.row_off < 0 or window.col_off + window.width > src.width
            or window.row_off + window.height > src.height)
