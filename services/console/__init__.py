"""The web console at /console/ (CONTRACTS §7): BMS users resolve pending activity links."""
