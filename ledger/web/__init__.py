"""Passports on the web: the public passport page (``page``), its strings (``i18n``), its
templates and static files (DESIGN §12)."""
