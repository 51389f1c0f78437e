from helpers.buzzeasy import live  # noqa: F401  (the module-scoped Buzzeasy server)
