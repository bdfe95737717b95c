"""Element columns: recognise them by name, give each one canonical unit.

Names are read as ``<species><sep><unit>[<sep><method>]`` or
``<species><sep><method><sep><unit>``, e.g. ``Au_ppm``, ``Au (ppb)``,
``Cu_pct``, ``Fe2O3_pct``, ``Cu_ppm_511``, ``Au_FA_ppb``; a plain symbol
(``Au``) takes its unit from the ``units`` setting (default ppm).

Canonical units (one per variable, so a survey never mixes scales):
- ppb for Au, Pt, Pd, Hg and the other platinum-group elements (Ir, Os, Rh, Ru),
  whose concentrations are parts per billion in every survey;
- pct for the major oxides and volatiles (SiO2, TiO2, Al2O3, Fe2O3, Fe2O3T,
  FeO, MnO, MgO, CaO, Na2O, K2O, P2O5, LOI, H2O, CO2, SO3);
- ppm for everything else, Ag included (assay labs report Ag in ppm; an
  ``Ag_ppb`` column is converted to ppm) and trace oxides such as ``BaO_ppm``.
``output_units`` overrides any of these.

Oxides are variables of their own: ``Fe_ppm`` and ``Fe2O3_pct`` are both kept.

A trailing method code (GTK's ``Cu_ppm_511`` = method 511P, aqua regia ICP)
is recorded as the column's method and left out of the variable name, so the
variable is ``Cu``. When one species comes in columns with different methods
the methods are never mixed: each becomes its own variable ``Cu_511``,
``Cu_521``. Columns of one species and method that differ only in unit
(``Au_ppm`` and ``Au_ppb``) are one variable, filled column by column.
"""

import re
from dataclasses import dataclass

from .errors import InputError

ELEMENTS = frozenset(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn "
    "Ga Ge As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce "
    "Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At "
    "Rn Fr Ra Ac Th Pa U".split()
)
# A bare column called "N", "O" or "No" is far more likely a count or a flag
# than nitrogen or oxygen; such symbols need a unit in the name to be taken.
_PLAIN_EXCLUDED = frozenset("H He N O Ne Ar Kr Xe Rn Tc Pm Po At Fr Ra Ac Pa".split())

PPB_ELEMENTS = frozenset("Au Pt Pd Hg Ir Os Rh Ru".split())
MAJOR_OXIDES = (
    "SiO2 TiO2 Al2O3 Fe2O3 Fe2O3T FeO FeOT MnO MgO CaO Na2O K2O P2O5 "
    "LOI H2O H2Oneg H2Opos CO2 SO3"
).split()
_KNOWN_SPECIES = {s.lower(): s for s in MAJOR_OXIDES}
_QUALIFIERS = ("total", "minus", "plus", "tot", "neg", "pos", "T")

# factor to ppm for each unit this module understands
TO_PPM = {"ppm": 1.0, "ppb": 1e-3, "pct": 1e4, "g/t": 1.0, "mg/kg": 1.0, "ug/g": 1.0, "ug/kg": 1e-3, "ng/g": 1e-3}
_UNIT_ALIASES = {
    "ppm": "ppm", "ppb": "ppb",
    "pct": "pct", "percent": "pct", "perc": "pct", "%": "pct", "wt%": "pct", "wtpct": "pct", "wt_pct": "pct",
    "g/t": "g/t", "g_t": "g/t", "gpt": "g/t",
    "mg/kg": "mg/kg", "mg_kg": "mg/kg", "mgkg": "mg/kg",
    "ug/g": "ug/g", "ug_g": "ug/g", "µg/g": "ug/g",
    "ug/kg": "ug/kg", "ug_kg": "ug/kg", "µg/kg": "ug/kg", "ugkg": "ug/kg",
    "ng/g": "ng/g", "ng_g": "ng/g",
}
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNIT_ALIASES, key=len, reverse=True))
_SEP = r"[\s_.\-]"
_NAME_UNIT_METHOD = re.compile(
    rf"^(?P<species>[A-Za-z][A-Za-z0-9]*?){_SEP}*[(\[]?(?i:(?P<unit>{_UNIT_RE}))[)\]]?"
    rf"(?:{_SEP}+(?P<method>[A-Za-z0-9]+))?$"
)
_NAME_METHOD_UNIT = re.compile(
    rf"^(?P<species>[A-Za-z][A-Za-z0-9]*?){_SEP}+(?P<method>[A-Za-z0-9]+){_SEP}*[(\[]?(?i:(?P<unit>{_UNIT_RE}))[)\]]?$"
)
_FORMULA = re.compile(r"(?:[A-Z][a-z]?\d*)+")
_FORMULA_PART = re.compile(r"([A-Z][a-z]?)(\d*)")


@dataclass(frozen=True)
class ElementColumn:
    """One source column of a variable: output name, column, unit of the column's values."""

    name: str
    column: str
    unit: str
    species: str = None
    method: str = None


def normalise_unit(text):
    """Canonical spelling of a unit ('%' -> 'pct', 'mg_kg' -> 'mg/kg'), or None if unknown."""
    if text is None:
        return None
    return _UNIT_ALIASES.get(str(text).strip().lower())


def parse_species(token):
    """Element symbol or formula (``Au``, ``Fe2O3``, ``Fe2O3T``, ``LOI``) in canonical case, or None."""
    token = token.strip()
    if not token:
        return None
    known = _KNOWN_SPECIES.get(token.lower())
    if known:
        return known
    # AU, CU, au: single-case spellings of an element symbol
    if len(token) <= 2 and (token.isupper() or token.islower()):
        symbol = token.capitalize()
        return symbol if symbol in ELEMENTS else None
    if _is_formula(token):
        return token
    for qualifier in _QUALIFIERS:
        stem = token[: -len(qualifier)]
        if token.endswith(qualifier) and stem and _is_formula(stem) and len(_FORMULA_PART.findall(stem)) > 1:
            return token
    return None


def _is_formula(token):
    if not _FORMULA.fullmatch(token):
        return False
    return all(symbol in ELEMENTS for symbol, _ in _FORMULA_PART.findall(token))


def is_element(species):
    return species in ELEMENTS


def canonical_unit(species, output_units=None):
    """The unit a variable is reported in after preparation."""
    if output_units and species in output_units:
        unit = normalise_unit(output_units[species])
        if unit is None:
            raise InputError(f"unknown unit {output_units[species]!r} for {species}; use one of {sorted(TO_PPM)}",
                             column="output_units")
        return unit
    if species in PPB_ELEMENTS:
        return "ppb"
    if species in MAJOR_OXIDES:
        return "pct"
    return "ppm"


def conversion_factor(unit_from, unit_to):
    """Multiply values in ``unit_from`` by this to get ``unit_to``."""
    return TO_PPM[unit_from] / TO_PPM[unit_to]


def parse_column_name(name):
    """(species, unit, method) read from a column name, or None when it names no element."""
    name = str(name).strip()
    for pattern in (_NAME_UNIT_METHOD, _NAME_METHOD_UNIT):
        match = pattern.match(name)
        if match:
            species = parse_species(match["species"])
            if species is not None:
                return species, normalise_unit(match["unit"]), match["method"]
    # a name without unit must be a symbol or a known oxide: "SNO" (sample
    # number) parses as a formula but is no variable
    species = parse_species(name)
    plain_ok = species in _KNOWN_SPECIES.values() or (species in ELEMENTS and species not in _PLAIN_EXCLUDED)
    if plain_ok and not (len(name) <= 2 and name.islower()):
        return species, None, None
    return None


def detect_elements(columns, mapping=None, units=None, exclude=()):
    """Element columns among ``columns``.

    mapping: None (detect from names), a list of element names or column names
    (only those, each must exist), or a dict {variable: column or [columns]}.
    units: {species or column: unit} for columns whose name carries no unit
    (default ppm); a column name as key also overrides the unit in its name.
    exclude: columns never taken as elements (coordinates).
    Returns ElementColumn entries; several entries may share one name.
    """
    columns = [str(c) for c in columns]
    units = _check_units(units or {})
    exclude = set(exclude)
    candidates = [c for c in columns if c not in exclude]
    if mapping is None:
        found = [_from_name(c, units) for c in candidates]
        return _name_by_method([f for f in found if f is not None])
    if isinstance(mapping, dict):
        result = []
        for name, cols in mapping.items():
            for col in [cols] if isinstance(cols, str) else list(cols):
                if col not in columns:
                    raise _missing_column(col, name, columns)
                parsed = parse_column_name(col)
                species = parsed[0] if parsed else parse_species(str(name)) or str(name)
                unit = _unit_for(col, species, parsed[1] if parsed else None, units)
                result.append(ElementColumn(str(name), col, unit, species, parsed[2] if parsed else None))
        return result
    if isinstance(mapping, str):
        mapping = [mapping]
    detected = _name_by_method([f for f in (_from_name(c, units) for c in candidates) if f is not None])
    result = []
    for requested in mapping:
        requested = str(requested)
        if requested in columns and requested not in exclude:
            match = [e for e in detected if e.column == requested]
            if not match:
                species = parse_species(requested) or requested
                match = [ElementColumn(requested, requested, _unit_for(requested, species, None, units), species)]
            result.extend(match)
            continue
        match = [e for e in detected if e.name == requested] or [
            e for e in detected if e.name.lower() == requested.lower()]
        if not match:
            raise _missing_column(requested, requested, columns, detected)
        result.extend(match)
    return result


def _from_name(column, units):
    parsed = parse_column_name(column)
    if parsed is None:
        return None
    species, unit, method = parsed
    return ElementColumn(species, column, _unit_for(column, species, unit, units), species, method)


def _unit_for(column, species, unit_in_name, units):
    if column in units:
        return units[column]
    if unit_in_name is not None:
        return unit_in_name
    return units.get(species, "ppm")


def _check_units(units):
    checked = {}
    for key, value in units.items():
        unit = normalise_unit(value)
        if unit is None:
            raise InputError(f"unknown unit {value!r} for {key!r}; use one of {sorted(TO_PPM)} (or %, g_t, mg_kg)",
                             column="units")
        checked[str(key)] = unit
    return checked


def _name_by_method(found):
    # one species measured by several methods: keep the methods apart
    methods = {}
    for entry in found:
        methods.setdefault(entry.species, set()).add(entry.method)
    result = []
    for entry in found:
        if len(methods[entry.species]) > 1:
            name = f"{entry.species}_{entry.method}" if entry.method else entry.species
            entry = ElementColumn(name, entry.column, entry.unit, entry.species, entry.method)
        result.append(entry)
    return result


def _missing_column(column, name, columns, detected=None):
    hint = ""
    if detected:
        names = sorted({e.name for e in detected})
        hint = f"; elements detected from column names: {', '.join(names)}"
    return InputError(
        f"requested element {name!r} has no column {column!r}{hint}; columns in the file: {', '.join(columns)}",
        column=column,
    )
