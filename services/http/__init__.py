"""HTTP composition: one WSGI app routing by path to the services' edges."""
