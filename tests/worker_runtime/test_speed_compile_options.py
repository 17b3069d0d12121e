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
