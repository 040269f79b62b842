"""Dock widgets of the main window; each registers itself with `MainWindow.add_dock`."""
