"""The live map of the fleet: tablets' last positions, coloured by state."""
