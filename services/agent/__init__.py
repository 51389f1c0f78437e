"""Agent remote control (seed 004)."""
