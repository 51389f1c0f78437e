"""The domain core every edge calls: no Spyne, no WSGI, no protocol knowledge.

One transaction rule: a core function takes a `Session` and the caller (the edge, a
worker, the CLI) owns the transaction: `with system.database.session() as session:` (or
`read_session()` for reads). The one exception is a function that must not hold a
transaction across something slow - an argon2 password check, a switch action, a long
report read in batches: it takes the `Database` and opens short transactions itself, and
says so in a one-line comment (the sign-ins, `calldetails.iter_calls`, `agent_desk.AgentDesk`).
"""
