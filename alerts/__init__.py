"""Alerts: rules over the live state, the alert lifecycle, and what goes out."""
