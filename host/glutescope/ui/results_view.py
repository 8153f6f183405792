"""The results screen a protocol ends on: big headline, findings, stays until dismissed."""
from __future__ import annotations

from pyqtgraph.Qt import QtCore, QtGui, QtWidgets


class ResultsView(QtWidgets.QWidget):
    """Show a `glutescope.protocols.runner.ProtocolResults` readable from two metres.

    ``dismissed`` fires on the Close button, Enter, Esc or Q: the session then ends.
    """

    dismissed = QtCore.Signal()

    def __init__(self, results, *, subtitle: str = "") -> None:
        super().__init__()
        self.results = results
        self.setWindowTitle(f"glutescope — {results.title}: results")
        self.resize(1100, 720)
        self.setStyleSheet("background: #1e1e1e; color: #eeeeee")
        layout = QtWidgets.QVBoxLayout(self)
        title = QtWidgets.QLabel(f"{results.title} — results")
        f = title.font()
        f.setPointSize(20)
        title.setFont(f)
        layout.addWidget(title)
        self.headline = QtWidgets.QLabel(results.headline)
        f = self.headline.font()
        f.setPointSize(30)
        f.setBold(True)
        self.headline.setFont(f)
        self.headline.setWordWrap(True)
        self.headline.setStyleSheet("color: #f0c050")
        layout.addWidget(self.headline)
        self.findings = QtWidgets.QLabel("\n".join(results.lines))
        f = self.findings.font()
        f.setPointSize(14)
        self.findings.setFont(f)
        self.findings.setWordWrap(True)
        self.findings.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(self.findings)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        layout.addWidget(scroll, stretch=1)
        if subtitle:
            note = QtWidgets.QLabel(subtitle)
            note.setStyleSheet("color: #aaaaaa")
            layout.addWidget(note)
        self.close_button = QtWidgets.QPushButton("Close (Enter)")
        self.close_button.clicked.connect(self.dismissed.emit)
        layout.addWidget(self.close_button, alignment=QtCore.Qt.AlignmentFlag.AlignRight)
        for key in ("Return", "Enter", "Esc", "Q"):
            shortcut = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            shortcut.activated.connect(self.dismissed.emit)

    def text(self) -> str:
        """What the screen shows, as text (for tests and the terminal)."""
        return self.headline.text() + "\n" + self.findings.text()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.dismissed.emit()
        super().closeEvent(event)
