"""``crystalview install-desktop``: the Linux launcher files, and their removal."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys

import pytest

from crystalview.cli import desktop_cmd


def read_entry(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_install_and_uninstall_linux_launcher(tmp_path):
    command = ["/opt/my env/bin/python", "-m", "crystalview"]
    written = desktop_cmd.install_linux(tmp_path, command)
    desktop = tmp_path / "applications" / "crystalview.desktop"
    assert desktop in written
    entry = read_entry(desktop)
    assert entry["Name"] == "CrystalView"
    assert entry["Exec"] == '"/opt/my env/bin/python" "-m" "crystalview" %F'
    assert entry["Terminal"] == "false"
    icon = tmp_path / "icons/hicolor/256x256/apps/crystalview.png"
    assert entry["Icon"] == str(icon)
    assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "icons/hicolor/scalable/apps/crystalview.svg").is_file()
    removed = desktop_cmd.uninstall_linux(tmp_path)
    assert set(removed) == set(written)
    assert not desktop.exists()
    assert desktop_cmd.uninstall_linux(tmp_path) == []


def test_exec_quoting_escapes_special_characters():
    text = desktop_cmd.desktop_entry(['/a "b"/$x/py', "-m", "crystalview"], "icon")
    assert 'Exec="/a \\"b\\"/\\$x/py" "-m" "crystalview" %F' in text


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="no validator")
def test_desktop_file_is_valid(tmp_path):
    desktop_cmd.install_linux(tmp_path)
    desktop = tmp_path / "applications" / "crystalview.desktop"
    result = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG launcher")
def test_cli_installs_into_xdg_data_home(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = [sys.executable, "-m", "crystalview", "install-desktop"]
    result = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # messages go to stderr
    entry = read_entry(tmp_path / "applications" / "crystalview.desktop")
    assert entry["Exec"].startswith(f'"{sys.executable}" "-m" "crystalview"')
    result = subprocess.run([*run, "--uninstall"], env=env, capture_output=True, text=True)
    assert result.returncode == 0
    assert not (tmp_path / "applications" / "crystalview.desktop").exists()


def test_macos_bundle_layout(tmp_path):
    bundle = tmp_path / "CrystalView.app"
    desktop_cmd.install_macos(bundle, ["/usr/bin/python3", "-m", "crystalview"])
    script = (bundle / "Contents/MacOS/CrystalView").read_text()
    assert 'exec /usr/bin/python3 -m crystalview "$@"' in script
    assert "CFBundleExecutable" in (bundle / "Contents/Info.plist").read_text()
    assert (bundle / "Contents/Resources/CrystalView.icns").stat().st_size > 0
    assert desktop_cmd.uninstall_macos(bundle) == [bundle]
    assert not bundle.exists()
