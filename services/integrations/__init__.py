"""Outbound integrations: delivering what the outbox holds (BMS link notices, CRM calls)."""
