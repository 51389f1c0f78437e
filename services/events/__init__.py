"""Real-time callback status events (seed 001 "Event Notification Service"): an ASP.NET
SignalR 2 compatible hub at /signalr and Server-Sent Events at /events/callbacks/{code},
served from an event-loop server (aiohttp) beside waitress."""
