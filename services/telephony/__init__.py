"""Telephony: the switch driver interface (`driver`), the simulated switch (`simulated`)
with its synthetic call audio (`audio`), playback channels (`channels`) and outbound
outcome rules (`outcomes`). Nothing here knows the storage schema or any wire protocol;
the composition root wires a driver to a `CallEventSink`.

Import the submodules directly: importing this package stays cheap (no LAME, no threads).
"""
