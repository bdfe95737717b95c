"""The prepare stage: raw survey and known sites -> clean points in a projected CRS plus a QA dict.

Every change is counted in the QA dict (it becomes qa.json):
- rows with unusable coordinates (missing, not numbers, not finite, outside
  the CRS's area of use, or spatial outliers far from all other samples) are
  rejected and listed by row number (CSV: spreadsheet rows, header = row 1;
  vector: feature number from 1);
- missing codes, empty cells, NA and text become missing, counted per element
  (text with example rows);
- detection-limit values (negative numbers, ``<0.5``) are replaced by a rule;
  a zero, a bare ``<`` or ``BDL`` is below a limit the file does not give, and
  the smallest limit (else the smallest measured value) of that column stands
  in for it;
- ``>1000`` (above the upper limit) keeps 1000 and is counted;
- an element in several columns (Au_ppb and Au_ppm) takes, row by row, a measured value before a
  censored one (``>5`` gives way to the exact re-assay); where both twins are measured their median
  ratio must lie within TWIN_RATIO_LIMIT, else a unit is mislabelled and the stage stops (twin_columns);
- decimal commas (``0,54``) are read as decimal points and counted (decimal_commas; survey_io.read_table);
- values over 100 % after unit conversion become missing and are counted;
- with a campaign column (the company report of each row), censored codes are
  reported per element and campaign, and censored values are put on one level
  per element (harmonise_censoring_values) so that they do not mark the campaign
  (measured values below that level's limit too only with harmonise_below_limit);
- rows at one location (identical input coordinates) are merged per element;
- elements with too few valid locations, or none above detection, are dropped
  with their reason; locations left with no value at all are dropped and their
  rows listed.
The element counts cover the rows whose coordinates were usable.

Modules: values (reading cells), locate (coordinates and CRS), combine (twin columns, outliers,
repeated locations), campaigns, samples (prepare_samples), sites (prepare_sites), qa (QA parts,
console summaries, duplicates.csv).
"""

from ..survey_io import read_points, read_table, write_points
from .campaigns import HARMONISE_RULE, UNKNOWN_CAMPAIGN, censoring_by_campaign, harmonise_censoring_values
from .combine import DUPLICATE_RULES, TEXT_VALUES_SHOWN, TWIN_RATIO_LIMIT
from .locate import SAMPLE_KEYS, SITE_KEYS, Points, _coordinate_values, locate_points, utm_crs_for
from .qa import (DROPPED_ROWS_WARNING, element_summary_lines, samples_summary, sites_outside_samples, sites_summary,
                 write_duplicates)
from .samples import prepare_samples
from .sites import prepare_sites
from .values import (ABOVE, ABOVE_NO_VALUE, BELOW, BELOW_UNKNOWN, CODE, CODE_GUESSED, DEFAULT_MISSING_CODES,
                     DETECTION_LIMIT_RULES, EMPTY, FLAG_MEANINGS, FLAGGED_MISSING, NON_FINITE, OUT_OF_RANGE, OUTLIER,
                     TEXT, TEXT_FLAGS, VALID, ParsedValues, parse_values, replace_below_detection, text_flag_table)

__all__ = [
    "ABOVE", "ABOVE_NO_VALUE", "BELOW", "BELOW_UNKNOWN", "CODE", "CODE_GUESSED", "DEFAULT_MISSING_CODES",
    "DETECTION_LIMIT_RULES", "DROPPED_ROWS_WARNING", "DUPLICATE_RULES", "EMPTY", "FLAG_MEANINGS", "FLAGGED_MISSING",
    "HARMONISE_RULE", "NON_FINITE", "OUT_OF_RANGE", "OUTLIER", "SAMPLE_KEYS", "SITE_KEYS", "TEXT", "TEXT_FLAGS",
    "TEXT_VALUES_SHOWN", "TWIN_RATIO_LIMIT", "UNKNOWN_CAMPAIGN", "VALID", "ParsedValues", "Points",
    "_coordinate_values", "censoring_by_campaign", "element_summary_lines", "harmonise_censoring_values",
    "locate_points", "parse_values", "prepare_samples", "prepare_sites", "read_points", "read_table",
    "replace_below_detection", "samples_summary", "sites_outside_samples", "sites_summary", "text_flag_table",
    "utm_crs_for", "write_duplicates", "write_points",
]
