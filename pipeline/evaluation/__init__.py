"""Honest evaluation: window-level classification metrics and map-level
(success-rate, prediction-area, site-versus-background) evaluation."""
