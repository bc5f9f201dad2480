"""EncoderConfig: modes change only sizes; build_encoder picks the backbone or names the choices."""

import dataclasses

import pytest

from recrl_core.config import Mode
from recrl_core.seqrec import heads
from recrl_core.seqrec.caser import Caser
from recrl_core.seqrec.gru4rec import GRU4Rec
from recrl_core.seqrec.sasrec import SASRec


def test_for_mode_changes_only_size_fields():
    full = heads.EncoderConfig()
    assert heads.EncoderConfig.for_mode(Mode.FULL) == full
    assert heads.EncoderConfig.for_mode(Mode.SMOKE).hidden_size == 16
    for mode in (Mode.SMOKE, Mode.BOOK):
        cfg = heads.EncoderConfig.for_mode(mode)
        changed = {f.name for f in dataclasses.fields(cfg) if getattr(cfg, f.name) != getattr(full, f.name)}
        assert changed <= set(heads.EncoderConfig.SIZE_FIELDS)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        heads.EncoderConfig().hidden_size = 8


@pytest.mark.parametrize("backbone, cls", [("gru4rec", GRU4Rec), ("caser", Caser), ("sasrec", SASRec)])
def test_build_encoder_picks_backbone(backbone, cls):
    encoder = heads.build_encoder(heads.EncoderConfig(backbone=backbone, hidden_size=8), num_items=5)
    assert type(encoder) is cls and encoder.hidden_size == 8


def test_build_encoder_rejects_unknown_backbone():
    with pytest.raises(ValueError, match="nextitnet") as err:
        heads.build_encoder(heads.EncoderConfig(backbone="nextitnet"), num_items=5)
    for choice in ("gru4rec", "caser", "sasrec"):
        assert choice in str(err.value)
