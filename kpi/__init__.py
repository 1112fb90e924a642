"""Leadership KPIs: the catalogue, values computed from telemetry, imported reported figures."""
