"""fp8's Inductor tuning is an option of the fp8 transformer's own compile, not a process-wide
setting: compile_options decides it (FRAMECRAFT_FP8_TUNING), compile_blocks hands it to the
backend with that compile alone, and the global Inductor config is left as it was."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from worker.catalogue import get_preset
from worker.runtime import speed

BASE = "wan2.1-t2v-1.3b"


@pytest.mark.parametrize(("fp8", "setting", "tuned"), [
    (True, None, True), (True, "on", True), (True, "auto", True), (True, "off", False),
    (True, "0", False), (False, None, False), (False, "on", False),
])
def test_only_fp8_compiles_tuned_unless_the_setting_is_off(fp8, setting, tuned):
    options = speed.compile_options(fp8, setting)
    assert (options == speed.FP8_INDUCTOR_OPTIONS) is tuned
    assert (options is None) is not tuned


def test_a_malformed_tuning_setting_stops_with_its_name():
    with pytest.raises(ValueError, match="FRAMECRAFT_FP8_TUNING"):
        speed.compile_options(True, "sometimes")


def test_every_tuning_option_is_an_inductor_setting():
    import torch._inductor.config as inductor

    for key, value in speed.FP8_INDUCTOR_OPTIONS.items():
        assert isinstance(getattr(inductor, key), bool) and value is True


def _inputs(transformer: Any) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(0)
    return {"hidden_states": torch.randn(1, 16, 2, 8, 8, generator=generator),
            "timestep": torch.tensor([500]),
            "encoder_hidden_states": torch.randn(1, 8, transformer.config.text_dim,
                                                 generator=generator),
            "return_dict": False}


def test_the_options_reach_the_backend_with_this_compile_only(tiny_pipeline):
    """A backend that records what it was given: the blocks' one graph comes with the fp8
    options, the output is the eager one, and Inductor's global tuning settings are unchanged."""
    import torch._inductor.config as inductor

    torch._dynamo.reset()
    before = {key: getattr(inductor, key) for key in speed.FP8_INDUCTOR_OPTIONS}
    given: list[dict[str, Any]] = []

    def recording(graph: torch.fx.GraphModule, example_inputs: Any, **kwargs: Any) -> Any:
        given.append(kwargs)
        return graph.forward

    transformer = tiny_pipeline.transformer
    inputs = _inputs(transformer)
    eager = transformer(**inputs)[0]
    options = speed.compile_options(True, "on")
    assert speed.compile_blocks(tiny_pipeline, get_preset(BASE), None, backend=recording,
                                options=options) is None
    compiled = transformer(**inputs)[0]
    torch.testing.assert_close(compiled, eager)
    assert given and all(kwargs == {"options": speed.FP8_INDUCTOR_OPTIONS} for kwargs in given)
    assert {key: getattr(inductor, key) for key in speed.FP8_INDUCTOR_OPTIONS} == before
    torch._dynamo.reset()


def test_without_options_the_backend_gets_none(tiny_pipeline):
    torch._dynamo.reset()
    given: list[dict[str, Any]] = []

    def recording(graph: torch.fx.GraphModule, example_inputs: Any, **kwargs: Any) -> Any:
        given.append(kwargs)
        return graph.forward

    transformer = tiny_pipeline.transformer
    assert speed.compile_blocks(tiny_pipeline, get_preset(BASE), None, backend=recording,
                                options=speed.compile_options(False)) is None
    transformer(**_inputs(transformer))
    assert given and all(kwargs == {} for kwargs in given)
    torch._dynamo.reset()


_COMPILE_ONCE = """
import json, sys
from pathlib import Path
from worker.runtime import speed
speed.use_compile_cache(Path(sys.argv[1]))
import torch
from torch._dynamo.utils import counters
double = torch.compile(lambda x: torch.nn.functional.gelu(x) * 2 + 1, fullgraph=True,
                       dynamic=False)
double(torch.randn(8, 8))
print(json.dumps({k: v for group in ("inductor", "aot_autograd")
                  for k, v in counters[group].items() if "cache" in k}))
"""


def test_a_restarted_process_reads_what_the_first_compiled_from_the_models_volume(tmp_path):
    """Two fresh processes, one folder (what compile_cache_dir gives a worker): the first
    compiles with Inductor (CPU) and fills it, the second reads its graph back."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    folder = tmp_path / ".speed" / "compile" / "cpu-torch"
    env = {k: v for k, v in os.environ.items()
           if k not in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")}
    root = Path(__file__).resolve().parents[2]
    runs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", _COMPILE_ONCE, str(folder)], cwd=root,
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    assert cold.get("fxgraph_cache_miss", 0) >= 1 and not cold.get("fxgraph_cache_hit"), runs
    assert warm.get("fxgraph_cache_hit", 0) >= 1 and not warm.get("fxgraph_cache_miss"), warm
    assert any(folder.rglob("*")), "nothing was written to the models volume's folder"


def test_torchs_own_default_cache_folder_is_not_an_operators_choice(tmp_path, monkeypatch):
    """torch._dynamo's import writes /tmp/torchinductor_<user> into the environment: the worker
    still moves the cache (and Triton's, beneath it) to the models volume; an operator's own
    folder stays."""
    import os

    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    # What importing torch._dynamo does (cache_dir_utils.cache_dir):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", default_cache_dir())
    monkeypatch.setenv("TRITON_CACHE_DIR", os.path.join(default_cache_dir(), "triton", "0"))
    assert speed.operator_cache_dir() is None
    folder = tmp_path / "volume"
    speed.use_compile_cache(folder)
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(folder)
    assert os.environ["TRITON_CACHE_DIR"] == str(folder / "triton")

    chosen = str(tmp_path / "operator")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", chosen)
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "operator-triton"))
    assert speed.operator_cache_dir() == chosen
    speed.use_compile_cache(tmp_path / "other")
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == chosen
    assert os.environ["TRITON_CACHE_DIR"] == str(tmp_path / "operator-triton")
