"""Metadata dock: the image's facts and the raw vendor metadata as a searchable tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from crystalview.core.micrograph import Micrograph

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

    def set_micrograph(self, micrograph: Micrograph | None) -> None:
        self.tree.clear()
        self._count = 0
        if micrograph is None:
            return
        facts = QTreeWidgetItem(self.tree, ["Image", ""])
        self._fill(facts, {k: v for k, v in micrograph.summary().items() if v is not None})
        raw = QTreeWidgetItem(self.tree, ["Metadata", ""])
        self._fill(raw, micrograph.metadata)
        facts.setExpanded(True)
        raw.setExpanded(True)
        self.apply_filter(self.filter_edit.text())

    def _fill(self, parent: QTreeWidgetItem, value: Any) -> None:
        if isinstance(value, Mapping):
            children = value.items()
        elif isinstance(value, (list, tuple)) and any(
            isinstance(v, (Mapping, list)) for v in value
        ):
            children = ((f"[{i}]", v) for i, v in enumerate(value))
        else:
            return
        for key, child in children:
            if self._count >= MAX_ITEMS:
                QTreeWidgetItem(parent, ["…", f"more than {MAX_ITEMS} entries, not shown"])
                return
            self._count += 1
            nested = isinstance(child, Mapping) or (
                isinstance(child, (list, tuple))
                and any(isinstance(v, (Mapping, list)) for v in child)
            )
            text = "" if nested else _short(child)
            item = QTreeWidgetItem(parent, [str(key), text])
            if text:
                item.setToolTip(1, text)
            if nested:
                self._fill(item, child)

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


def _is_nested(value: Any) -> bool:
    """A list that holds dicts or lists is shown as a subtree, not as one long string."""
    return isinstance(value, (list, tuple)) and any(isinstance(v, (Mapping, list)) for v in value)


def _short(value: Any, limit: int = 300) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"
