"""One router per resource: records, log, tlog (C2SP tiles), participants, health."""
