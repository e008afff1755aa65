#!/usr/bin/env python3
"""Context-free baseline of `sattva eval grounding`: scikit-learn TF-IDF (words and word pairs)
+ 1-nearest-neighbour (cosine) over the same (utterance -> primitive) training pairs the
learner was taught. It sees the text only, never the context.

usage: grounding_baseline.py PAIRS.json   (writes the predictions as JSON to stdout)
PAIRS.json: {"train": [[text, label], ...], "test": [text, ...]}
"""
import json
import sys

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import KNeighborsClassifier


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    train = data["train"]
    test = data["test"]
    if not train:
        print("no training pairs", file=sys.stderr)
        return 1
    vec = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b")
    x = vec.fit_transform([t for t, _ in train])
    knn = KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute")
    knn.fit(x, [label for _, label in train])
    pred = knn.predict(vec.transform(test)).tolist() if test else []
    json.dump({"predictions": pred}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
