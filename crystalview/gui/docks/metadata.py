"""Metadata dock: the image's facts and the raw vendor metadata as a searchable tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from crystalview.core.micrograph import Micrograph
from crystalview.core.units import format_pixel_size

# Vendor metadata can hold tens of thousands of tags (a full DM tag dump); the tree shows this
# many at most, so selecting an image never stalls the window.
MAX_ITEMS = 20_000


class MetadataDock(QWidget):
    """A filter line edit over a two-column tree (key, value)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter metadata (e.g. voltage, pixel, camera)…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.apply_filter)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Key", "Value"])
        self.tree.setColumnWidth(0, 200)
        self.tree.setUniformRowHeights(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.tree)
        self._count = 0
        self._keys: list[tuple[str, int]] = []

    def set_micrograph(self, micrograph: Micrograph | None) -> None:
        self.tree.clear()
        self._count = 0
        self._keys: list[tuple[str, int]] = []
        if micrograph is None:
            return
        facts = QTreeWidgetItem(self.tree, ["Image", ""])
        self._fill(facts, image_facts(micrograph))
        raw = QTreeWidgetItem(self.tree, ["Metadata", ""])
        self._fill(raw, micrograph.metadata)
        facts.setExpanded(True)
        raw.setExpanded(True)
        self._fit_key_column()
        self.apply_filter(self.filter_edit.text())

    def _fit_key_column(self) -> None:
        """Wide enough for the longest key shown (vendor keys are long: "Microscope Info
        .Indicated Magnification"), but never more than two thirds of the dock."""
        metrics = self.tree.fontMetrics()
        indent = self.tree.indentation()
        widest = max((metrics.horizontalAdvance(key) + indent * depth for key, depth in self._keys),
                     default=100)  # fmt: skip
        limit = max(160, int(self.tree.viewport().width() * 2 / 3))
        self.tree.setColumnWidth(0, min(widest + 2 * indent, limit))

    def _fill(self, parent: QTreeWidgetItem, value: Any, depth: int = 1) -> None:
        if isinstance(value, Mapping):
            children = value.items()
        elif _is_nested(value):
            children = ((f"[{i}]", v) for i, v in enumerate(value))
        else:
            return
        for key, child in children:
            if self._count >= MAX_ITEMS:
                QTreeWidgetItem(parent, ["…", f"more than {MAX_ITEMS} entries, not shown"])
                return
            self._count += 1
            nested = isinstance(child, Mapping) or _is_nested(child)
            text = "" if nested else _short(child)
            item = QTreeWidgetItem(parent, [str(key), text])
            item.setToolTip(0, str(key))  # keys deeper than the column is wide stay readable
            if depth <= 2:  # the rows seen first decide the key column's width
                self._keys.append((str(key), depth))
            if text:
                item.setToolTip(1, text)
            if nested:
                self._fill(item, child, depth + 1)

    def apply_filter(self, text: str) -> None:
        """Show only items whose key or value contains ``text`` (and their parents)."""
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            self._filter_item(self.tree.topLevelItem(i), needle)

    def _filter_item(self, item: QTreeWidgetItem, needle: str) -> bool:
        own = not needle or needle in item.text(0).lower() or needle in item.text(1).lower()
        any_child = False
        for i in range(item.childCount()):
            # a matching parent shows its whole subtree
            any_child |= self._filter_item(item.child(i), "" if own and needle else needle)
        visible = own or any_child
        item.setHidden(not visible)
        if needle and any_child:
            item.setExpanded(True)
        return visible


def image_facts(micrograph: Micrograph) -> dict[str, Any]:
    """The facts of the "Image" branch as people read them: width x height, the pixel size in
    the unit that suits it (4 significant digits), the rest as the file gave it."""
    summary = {k: v for k, v in micrograph.summary().items() if v is not None}
    height, width = micrograph.shape
    shown: dict[str, Any] = {}
    for key, value in summary.items():
        if key == "shape":
            shown["size"] = f"{width} x {height} px"
        elif key == "pixel_size":
            shown["pixel_size"] = format_pixel_size(value, micrograph.pixel_unit)
        elif key != "pixel_unit":
            shown[key] = value
    return shown


def _is_nested(value: Any) -> bool:
    """A list that holds dicts or lists is shown as a subtree, not as one long string."""
    return isinstance(value, (list, tuple)) and any(isinstance(v, (Mapping, list)) for v in value)


def _short(value: Any, limit: int = 300) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"
