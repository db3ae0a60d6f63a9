"""TDS Ledger: a provenance and audit ledger for trusted data spaces.

The core library (this package) has no web framework imports. Public names that
receipts and third-party verifiers depend on are listed in DESIGN §7 and kept stable:
``ledger.merkle``, ``ledger.verify.verify_receipt``, the ``tdsl`` CLI.
"""

__version__ = "0.1.0"
