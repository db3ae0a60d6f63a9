"""The HTTP API of TDS Ledger (FastAPI). No business logic here: the library does the work.

``create_app(ledger, settings)`` builds the application; see ``api.app``.
"""

from api.app import create_app

__all__ = ["create_app"]
