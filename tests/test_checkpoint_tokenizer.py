"""A checkpoint's tokenizer must be the model's own: `load_checkpoint` refuses one of another size."""

from __future__ import annotations

import pytest


def test_a_tokenizer_swapped_into_a_checkpoint_is_refused(tmp_path, tags_domain):
    """A 5-token tokenizer copied beside a model of more rows loaded without a word, and the model then read ids
    that mean other tokens: its suggestions were garbage."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    from inference_helpers import save_random_checkpoint
    from nep_core.checkpoint import load_checkpoint
    from nep_core.errors import NepError

    folder = save_random_checkpoint(tmp_path / "model", tags_domain)
    rows = len(load_checkpoint(folder).tokenizer)
    vocab = {token: index for index, token in enumerate(["<pad>", "<unk>", "<bos>", "<eos>", "x"])}
    other = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")), unk_token="<unk>")
    other.save_pretrained(folder)
    with pytest.raises(NepError) as raised:
        load_checkpoint(folder, expected_domain="tags")
    assert str(raised.value) == (f"{folder}: its tokenizer has 5 tokens but the model's embeddings {rows} rows (config.json vocab_size), "
                                 "so the two were not trained together; put the checkpoint's own tokenizer.json and "
                                 "tokenizer_config.json back, or train the model again")


def test_a_checkpoint_without_its_tokenizer_says_so_in_a_whole_sentence(tmp_path, tags_domain):
    """It said `cannot load the tokenizer (ValueError: Couldn't instantiate the backend tokenizer from one of: (1) a
    `tokenizers` library serialization file,)`: cut after its first line."""
    from inference_helpers import save_random_checkpoint
    from nep_core.checkpoint import load_checkpoint
    from nep_core.errors import NepError

    folder = save_random_checkpoint(tmp_path / "model", tags_domain)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    with pytest.raises(NepError) as raised:
        load_checkpoint(folder)
    assert str(raised.value) == (f"{folder}: no tokenizer there (tokenizer.json); put the checkpoint's own tokenizer files back, "
                                 "or train the model again")
