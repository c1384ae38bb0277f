"""facility-coverage: network-based access analysis of health facilities.

Importing this package is cheap: it loads no GIS or solver libraries. The
stages live in their own modules (data flows one way):

inputs -> networks -> traveltime -> isochrones -> population -> metrics
-> siting -> maps / reports, with ``cli`` as a thin shell over all of them.
"""

from __future__ import annotations

__version__ = "0.1.0"

# Checked by the ``fcov`` launcher and by the test suite: coverage.py uses the
# same import name, and a shadowed package must be detected, not guessed at.
__facility_coverage__ = True

SYNTHETIC_LABEL = "示例县 Demo County, synthetic data"
