"""`dlp train`: a classifier per tag (or shared label) of registered secrets, against negatives.

Positives need no files: `dlp register` stored hashed features of every document
(keyed, no plaintext). Negatives are read here from the given files and directories,
plus any content registered with `dlp register --public`.
"""

from __future__ import annotations

import re

from ...classify.features import hashed_counts
from ...classify.model import DEFAULT_MODEL
from ...classify.train import MIN_RECALL, Sample, train
from ...errors import UsageError
from ...registry import Registry
from ...text import tokenise
from .files import expand
from ...extract.documents import read_document as read_text
from ..status import Exit


def register(sub) -> None:
    p = sub.add_parser("train", help="train a classifier on registered secrets and benign negatives",
                       description="Learn what the documents of each tag (or label shared by several secrets) look "
                                   "like, against benign documents. Reports cross-validated precision and recall "
                                   f"and refuses a class whose held-out recall is under {MIN_RECALL:.0%}.")
    p.add_argument("--negatives", nargs="+", default=[], metavar="PATH",
                   help="benign or public documents (files or directories)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL})")
    p.add_argument("--models", metavar="DIR",
                   help="models directory (default $DLP_MODELS or models/ beside the registry)")
    p.add_argument("--seed", type=int, default=0, help="seed of the cross-validation folds")
    p.set_defaults(handler=run)


def run(args, env) -> int:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", args.model):
        raise UsageError(f"--model {args.model!r}: use letters, digits, '.', '_' and '-' only")
    root = env.settings(args).registry
    reg = Registry(root, env.settings(args).key)
    negatives = []
    for path in expand(args.negatives):
        text, raw, problems = read_text(path)
        if problems:
            env.warn(f"{path}: {problems[0].kind}: {problems[0].detail}; left out of the negatives")
            continue
        values = reg.keyer.tokens(tokenise(text))
        if len(values) == 0:
            continue
        negatives.append(Sample(path.name, *hashed_counts(values), reg.keyer.digest(raw)))
    model = train(reg, negatives, args.model, seed=args.seed)
    folder = env.settings(args).models / args.model
    card = model.save(folder)
    for c in card["classes"]:
        print(f"{c['kind']} {c['name']!r}: {c['positives']} positives, {c['negatives']} negatives; "
              f"{c['folds']}-fold cross-validation: precision {c['cv_precision']:.1%}, recall {c['cv_recall']:.1%}, "
              f"false positives {c['cv_false_positive_rate']:.1%}", file=env.stdout)
    for reason in card["data"]["skipped"]:
        env.warn(f"left out {reason}")
    print(f"model {args.model!r} written to {folder} ({card['model_bytes']} bytes, {card['seconds']:.1f} s)",
          file=env.stdout)
    return Exit.OK
