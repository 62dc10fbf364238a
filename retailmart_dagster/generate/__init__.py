"""RetailMart sample-data generator.

``generate(conn, scale=..., seed=..., end_date=..., defects=...)`` (re)creates the source schemas of
``source/schema.sql`` on an open psycopg 3 connection and loads a deterministic, realistic data set.
See ``core.generate`` for details and ``defects.DEFECTS`` for the defects ``defects=True`` injects.
"""

from .core import GenerateResult, build, generate
from .defects import DEFECTS, Defect

__all__ = ["DEFECTS", "Defect", "GenerateResult", "build", "generate"]
