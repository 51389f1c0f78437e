"""Shared SOAP plumbing: authored contracts, Spyne applications per protocol, fault mapping."""
