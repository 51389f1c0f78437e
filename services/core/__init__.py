"""The domain core every edge calls: no Spyne, no WSGI, no protocol knowledge."""
