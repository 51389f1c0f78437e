"""How calls enter the ledger: CTI ingest from a real PBX or recorder, and the API of
the simulated switch."""
