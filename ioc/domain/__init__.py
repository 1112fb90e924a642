"""Domain scales every package shares: VN_AQI, disaster risk levels, water alarm levels (pure)."""
