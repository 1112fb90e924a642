"""Simulated devices of a province: fleet data, signal models, scenarios, faults, publisher."""
