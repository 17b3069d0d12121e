"""The client's own pieces: Django-free, settings precedence, the event-stream parser."""

from __future__ import annotations

import subprocess
import sys

from api.client import _sse_data, load_settings
from tests.processes import ROOT


def test_the_client_imports_no_django():
    code = ("import sys, api.cli\n"
            "assert not [m for m in sys.modules if m.split('.')[0] in ('django', 'ninja')], "
            "sorted(m for m in sys.modules if m.startswith(('django', 'ninja')))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    assert result.returncode == 0, result.stderr[-2000:]


def test_flags_beat_the_environment_which_beats_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "framecraft"
    folder.mkdir()
    (folder / "config.toml").write_text('url = "https://file.example/"\napi_key = "fc_file"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("FRAMECRAFT_URL", raising=False)
    monkeypatch.delenv("FRAMECRAFT_API_KEY", raising=False)
    assert load_settings() == load_settings(None, None)
    assert (load_settings().url, load_settings().api_key) == ("https://file.example",
                                                              "fc_file")
    monkeypatch.setenv("FRAMECRAFT_API_KEY", "fc_env")
    assert load_settings().api_key == "fc_env"
    assert load_settings(api_key="fc_flag", url="http://flag:1").api_key == "fc_flag"
    assert load_settings(url="http://flag:1").url == "http://flag:1"


def test_the_event_stream_parser_joins_data_lines_and_skips_comments():
    lines = iter(["retry: 3000", "", ": keep-alive", "", "event: job", "id: 1.0",
                  'data: {"a":', "data: 1}", "", "event: job", "data: {}", ""])
    assert list(_sse_data(lines)) == ['{"a":\n1}', "{}"]
