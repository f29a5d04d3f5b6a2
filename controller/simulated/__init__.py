"""Simulated people who train through the real session runner: the demo and the planner's trial."""
