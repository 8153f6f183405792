"""The command line as a user meets it: help, usage errors, missing hardware."""
import io

import pytest

from glutescope.cli import Environment, main
from glutescope.exitcodes import ExitStatus


def run_cli(*argv, environ=None):
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, environ=environ or {"QT_QPA_PLATFORM": "offscreen"})
    status = main(list(argv), env)
    return status, out.getvalue(), err.getvalue()


def test_help_lists_every_command_and_exits_zero(capsys):
    status, _, _ = run_cli("--help")
    assert status == 0
    text = capsys.readouterr().out
    for command in ("demo", "scan", "firmware"):
        assert command in text
    assert "not a medical device" in text


def test_no_command_prints_help_and_returns_usage():
    status, out, _ = run_cli()
    assert status == ExitStatus.USAGE
    assert "usage: glutescope" in out


@pytest.mark.parametrize("argv, fragment", [
    (("demo", "--duration", "-3"), "--duration must be positive"),
    (("demo", "--speed", "0"), "--speed must be positive"),
])
def test_bad_values_give_one_line_and_usage_status(argv, fragment):
    status, _, err = run_cli(*argv)
    assert status == ExitStatus.USAGE
    assert err.count("\n") == 1 and fragment in err


def test_scan_without_bluetooth_says_so_in_one_line():
    status, _, err = run_cli("scan", "--timeout", "0.5")
    # No adapter on a build machine; an adapter with no wearable in range on a laptop.
    assert status in (ExitStatus.NO_ADAPTER, ExitStatus.DEVICE_NOT_FOUND)
    assert err.startswith("glutescope: error: ") and err.count("\n") == 1


def test_firmware_install_dry_run_lists_every_firmware_file(tmp_path):
    from glutescope.virtual.wearable import firmware_dir

    status, out, _ = run_cli("firmware", "install", "--dry-run", "--port", "/dev/ttyACM9")
    assert status == 0
    for path in sorted((firmware_dir() / "glutefw").glob("*.py")):
        assert f":glutefw/{path.name}" in out
    assert ":main.py" in out and "mpremote connect /dev/ttyACM9 reset" in out


def test_firmware_install_to_a_missing_board_fails_in_one_line():
    status, _, err = run_cli("firmware", "install", "--port", "/dev/ttyNOPE")
    assert status == ExitStatus.DEVICE_NOT_FOUND
    assert "/dev/ttyNOPE" in err and err.count("\n") == 1


def test_scan_finds_the_virtual_wearable_by_its_service():
    status, out, _ = run_cli("scan", "--virtual", "--timeout", "1")
    assert status == 0
    assert "glutescope-3F2A" in out and "dBm" in out
    assert out.splitlines()[1].endswith("66 %")  # the battery level advertised in the scan response


def test_firmware_install_can_store_the_front_end_gain_on_the_board():
    status, out, _ = run_cli("firmware", "install", "--dry-run", "--emg-gain", "200")
    assert status == 0 and "settings.json    -> :settings.json" in out
    status, _, err = run_cli("firmware", "install", "--dry-run", "--emg-gain", "0")
    assert status == ExitStatus.USAGE and "--emg-gain must be between 1 and 100000" in err


@pytest.mark.parametrize("argv, fragment", [
    (("record", "{out}", "--channels", "foo,bar"), "--channels: unknown muscle 'foo'"),
    (("record", "{out}", "--channels", "glute_max_left,glute_max_left"), "names must be distinct"),
    (("record", "{out}", "--exercise", "plank"), "argument --exercise: invalid choice: 'plank'"),
    (("record", "{out}", "--duration", "soon"), "argument --duration: invalid float value: 'soon'"),
    (("record", "{out}", "--duration", "0"), "--duration must be positive"),
])
def test_bad_record_options_are_one_line_status_2_and_leave_nothing_on_disk(tmp_path, capsys, argv, fragment):
    out = tmp_path / "s.glutes"
    status, _, err = run_cli(*(a.format(out=out) for a in argv))
    err += capsys.readouterr().err  # argparse writes its own errors to sys.stderr
    assert status == ExitStatus.USAGE
    assert err.count("\n") == 1 and fragment in err, err
    assert not out.exists()
