"""Map layers: the demo province's geography, and importing a province's own layers."""
