"""HTML views of a retailer's host: the portal (portal.py) and the kiosk shell (kiosk.py)."""
