"""Prefect flows and the command line: the only package that imports Prefect.

amala runs offline (overnight, on clusters without internet), so the temporary Prefect server's
usage telemetry is off unless the user turns it on.
"""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
