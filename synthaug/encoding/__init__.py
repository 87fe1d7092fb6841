"""Encoders: tables to model space and back."""

from .columns import CategoricalColumn, NumericColumn
from .layout import Layout
from .table import EncodedTable, TableEncoder, infer_column_kind

__all__ = ["TableEncoder", "EncodedTable", "Layout", "CategoricalColumn", "NumericColumn",
           "infer_column_kind"]
