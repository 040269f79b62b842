"""``crystalview install-desktop [--uninstall]``: a double-click launcher with the app icon.

- Linux (and other XDG desktops): ``crystalview.desktop`` in ``$XDG_DATA_HOME/applications`` and
  the icon in the hicolor theme under ``$XDG_DATA_HOME/icons`` (per-user; no root needed).
- Windows: a Start-menu shortcut (``CrystalView.lnk``) made through PowerShell's WScript.Shell,
  pointing at ``pythonw.exe -m crystalview`` so no console window opens.
- macOS: a small ``~/Applications/CrystalView.app`` bundle whose executable starts this Python.

The launcher runs the interpreter that ran this command, so it keeps working in a virtual
environment or conda env without activation. No Qt is needed here.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from crystalview.core.errors import CrystalViewError
from crystalview.paths import resources_dir

APP_ID = "crystalview"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--uninstall", action="store_true", help="remove the launcher instead of adding it"
    )


def run(args: argparse.Namespace) -> int:
    if sys.platform.startswith("win"):
        changed = uninstall_windows() if args.uninstall else install_windows()
    elif sys.platform == "darwin":
        changed = uninstall_macos() if args.uninstall else install_macos()
    else:
        data_home = xdg_data_home()
        changed = uninstall_linux(data_home) if args.uninstall else install_linux(data_home)
        _refresh_desktop_database(data_home)
    verb = "Removed" if args.uninstall else "Installed"
    if not changed:
        print("crystalview: no launcher was installed; nothing to remove.", file=sys.stderr)
    else:
        extra = f" (and {len(changed) - 1} icon file(s))" if len(changed) > 1 else ""
        print(f"{verb} {changed[0]}{extra}", file=sys.stderr)
    return 0


# -- what the launcher runs ------------------------------------------------------------------------


def launch_command(windowed: bool = False) -> list[str]:
    """The command that opens the window with this installation's interpreter."""
    python = Path(sys.executable)
    if windowed and python.name.lower() == "python.exe":
        pythonw = python.with_name("pythonw.exe")
        if pythonw.is_file():
            python = pythonw
    return [str(python), "-m", APP_ID]


def _icons() -> Path:
    folder = resources_dir() / "icons"
    if not (folder / f"{APP_ID}-256.png").is_file():
        raise CrystalViewError(f"the app icons are missing from {folder}; reinstall CrystalView")
    return folder


# -- Linux / XDG -----------------------------------------------------------------------------------


def xdg_data_home() -> Path:
    value = os.environ.get("XDG_DATA_HOME")
    return Path(value) if value else Path.home() / ".local" / "share"


def desktop_entry(command: list[str], icon: str) -> str:
    """The .desktop file text from the template in ``resources/``."""
    template = (resources_dir() / "crystalview.desktop.in").read_text(encoding="utf-8")
    # Desktop-entry Exec quoting: each argument in double quotes with \\ " ` $ escaped.
    quoted = " ".join(
        '"' + "".join("\\" + c if c in '\\"`$' else c for c in arg) + '"' for arg in command
    )
    return (
        template.replace("@EXEC@", quoted).replace("@TRYEXEC@", command[0]).replace("@ICON@", icon)
    )


def linux_paths(data_home: Path) -> dict[str, Path]:
    """Every file the Linux launcher consists of."""
    paths = {"desktop": data_home / "applications" / f"{APP_ID}.desktop"}
    for size in ICON_SIZES:
        paths[f"icon{size}"] = data_home / "icons/hicolor" / f"{size}x{size}/apps/{APP_ID}.png"
    paths["svg"] = data_home / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg"
    return paths


def install_linux(data_home: Path, command: list[str] | None = None) -> list[Path]:
    """Write the .desktop file and icons under ``data_home``; returns the files written."""
    icons = _icons()
    paths = linux_paths(data_home)
    written = []
    for key, target in paths.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        if key == "desktop":
            continue
        source = icons / (f"{APP_ID}.svg" if key == "svg" else f"{APP_ID}-{key[4:]}.png")
        shutil.copyfile(source, target)
        written.append(target)
    desktop = paths["desktop"]
    # An absolute icon path works even where the icon-theme cache is never refreshed.
    text = desktop_entry(command or launch_command(), str(paths["icon256"]))
    tmp = desktop.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o755)  # some desktops only launch executable (trusted) entries
    os.replace(tmp, desktop)
    return [desktop, *written]


def uninstall_linux(data_home: Path) -> list[Path]:
    removed = []
    for path in linux_paths(data_home).values():
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def _refresh_desktop_database(data_home: Path) -> None:
    tool = shutil.which("update-desktop-database")
    if tool:  # optional: menus also rescan by themselves
        subprocess.run([tool, str(data_home / "applications")], check=False, capture_output=True)


# -- Windows ---------------------------------------------------------------------------------------


def _start_menu() -> Path:
    appdata = os.environ.get("APPDATA")
    if not appdata:
        raise CrystalViewError("APPDATA is not set, so the Start menu folder cannot be found")
    return Path(appdata) / "Microsoft/Windows/Start Menu/Programs"


def _windows_icon() -> Path:
    """An .ico made from the PNGs (Windows shortcuts cannot use PNG icons)."""
    from PIL import Image

    target = Path(os.environ.get("LOCALAPPDATA", str(Path.home()))) / "CrystalView" / "app.ico"
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(_icons() / f"{APP_ID}-256.png") as image:
        image.save(target, sizes=[(s, s) for s in (16, 32, 48, 64, 128, 256)])
    return target


def install_windows() -> list[Path]:
    link = _start_menu() / "CrystalView.lnk"
    python, *arguments = launch_command(windowed=True)
    icon = _windows_icon()

    def ps(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    script = (
        "$s = (New-Object -ComObject WScript.Shell).CreateShortcut(" + ps(str(link)) + ");"
        f"$s.TargetPath = {ps(python)}; $s.Arguments = {ps(' '.join(arguments))};"
        f"$s.IconLocation = {ps(str(icon))}; $s.Description = 'CrystalView';"
        f"$s.WorkingDirectory = {ps(str(Path.home()))}; $s.Save()"
    )
    result = subprocess.run(
        ["powershell", "-NoProfile", "-Command", script], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise CrystalViewError(f"could not create the Start-menu shortcut: {result.stderr.strip()}")
    return [link, icon]


def uninstall_windows() -> list[Path]:
    removed = []
    for path in (_start_menu() / "CrystalView.lnk",):
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


# -- macOS -----------------------------------------------------------------------------------------


def macos_bundle() -> Path:
    return Path.home() / "Applications" / "CrystalView.app"


def install_macos(bundle: Path | None = None, command: list[str] | None = None) -> list[Path]:
    """A minimal .app bundle whose executable is a shell script starting this interpreter."""
    bundle = bundle or macos_bundle()
    contents = bundle / "Contents"
    (contents / "MacOS").mkdir(parents=True, exist_ok=True)
    (contents / "Resources").mkdir(parents=True, exist_ok=True)
    executable = contents / "MacOS" / "CrystalView"
    line = " ".join(shlex.quote(arg) for arg in (command or launch_command()))
    executable.write_text(f'#!/bin/sh\nexec {line} "$@"\n', encoding="utf-8")
    executable.chmod(0o755)
    from PIL import Image

    with Image.open(_icons() / f"{APP_ID}-512.png") as image:
        image.save(contents / "Resources" / "CrystalView.icns")
    (contents / "Info.plist").write_text(_INFO_PLIST, encoding="utf-8")
    return [bundle]


def uninstall_macos(bundle: Path | None = None) -> list[Path]:
    bundle = bundle or macos_bundle()
    if bundle.is_dir():
        shutil.rmtree(bundle)
        return [bundle]
    return []


_INFO_PLIST = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>CFBundleName</key><string>CrystalView</string>
  <key>CFBundleDisplayName</key><string>CrystalView</string>
  <key>CFBundleIdentifier</key><string>org.crystalview.CrystalView</string>
  <key>CFBundleExecutable</key><string>CrystalView</string>
  <key>CFBundleIconFile</key><string>CrystalView.icns</string>
  <key>CFBundlePackageType</key><string>APPL</string>
  <key>NSHighResolutionCapable</key><true/>
</dict>
</plist>
"""
