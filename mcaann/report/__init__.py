"""Reports made from a result dataset alone: summary tables and figures (``report.figures``)."""

from mcaann.report.summary import summary_table

__all__ = ["summary_table"]
