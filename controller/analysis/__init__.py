"""Reading what happened: rep detection, rep and wire reports, log outcomes. Imports planning
only."""
