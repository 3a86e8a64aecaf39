"""The official train/test splits of UCF101, HMDB51 and KTH, read from their own files.

A seeded random split of these sets leaks: UCF101 and HMDB51 cut one long video into many
clips (same actor, same background), KTH films each person many times. Their official splits
keep groups apart, so reportable numbers need them:

* UCF101 ``ucfTrainTestlist/{train,test}list0k.txt``: one ``<class>/<clip>.avi`` per line (the
  train list adds a 1-based label, ignored: labels come from the folder);
* HMDB51 ``testTrainMulti_7030_splits/<class>_test_split<k>.txt``: ``<clip>.avi <id>`` with
  id 1 = train, 2 = test, 0 = not used;
* KTH: no files, the split is by person (``person<NN>_<action>_d<k>_uncomp.avi``) as in
  Schuldt et al. 2004: train 11-18, validation 1, 4, 19-21, 23-25, test 2, 3, 5-10, 22.

Each reader returns ``{"train": [...], "test": [...]}`` (KTH also ``"val"``) of clip paths.

Where no official split is asked for, and whenever validation is carved from a training
split, ``split_by_group`` holds out whole *groups*, never single clips: a group is the source
a clip was cut from (``source_of``: UCF101's ``v_<class>_g<NN>_c<MM>`` group, HMDB51's source
video, KTH's person). A clip whose name follows none of these patterns is its own group.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from seqvision.errors import DataError

KTH_PERSONS = {"train": set(range(11, 19)), "val": {1, 4, 19, 20, 21, 23, 24, 25},
               "test": {2, 3, 5, 6, 7, 8, 9, 10, 22}}


def _need(clips: list[Path], source: Path, root: Path) -> list[Path]:
    missing = [c for c in clips if not c.is_file()]
    if missing:
        raise DataError(f"video_folder: {len(missing)} clip(s) named in {source} are not under {root} "
                        f"(first: {missing[0]}); is data.root the folder the split files refer to?")
    return clips


def ucf101_lists(root: Path, train_list: Path, test_list: Path) -> dict[str, list[Path]]:
    out = {}
    for split, path in (("train", train_list), ("test", test_list)):
        if not path.is_file():
            raise DataError(f"video_folder: split list {path} not found; "
                            f"e.g. data.train_list=<ucfTrainTestlist>/trainlist01.txt")
        rels = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
        out[split] = _need([root / r for r in rels], path, root)
    return out


def hmdb51_splits(root: Path, split_dir: Path, index: int, classes: list[str]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {"train": [], "test": []}
    for cls in classes:
        path = split_dir / f"{cls}_test_split{index}.txt"
        if not path.is_file():
            raise DataError(f"video_folder: HMDB51 split file {path} not found (class {cls!r}, split {index}); "
                            f"e.g. data.hmdb51_splits=<testTrainMulti_7030_splits> data.split_index=1")
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] in ("1", "2"):
                out["train" if parts[1] == "1" else "test"].append(root / cls / parts[0])
        _need(out["train"] + out["test"], path, root)
    return out


def kth_persons(clips: list[Path]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
    for clip in clips:
        m = re.match(r"person(\d+)_", clip.name)
        if m is None:
            raise DataError(f"video_folder: {clip.name} is not a KTH name (person<NN>_<action>_d<k>_uncomp.avi); "
                            f"drop data.kth_split=true for other data sets")
        person = int(m.group(1))
        for split, persons in KTH_PERSONS.items():
            if person in persons:
                out[split].append(clip)
    return out


UCF101_NAME = re.compile(r"^v_(?P<action>.+)_g(?P<group>\d+)_c\d+$")
KTH_NAME = re.compile(r"^person(?P<person>\d+)_")
# HMDB51: <source video>_<action>_<body part>_<camera motion>_<people>_<viewpoint>_<quality>_<clip no.>
HMDB51_TAGS = re.compile(r"_[fhlu]_(?:cm|nm)_np\d+_(?:fr|ba|le|ri)_(?:bad|med|goo)_\d+$")


def source_of(clip: Path, label: str) -> str:
    """The group a clip belongs to: ``ucf101:<action>_g<NN>``, ``kth:person<NN>``,
    ``hmdb51:<source video>``, or ``clip:<label>/<name>`` when its name shows no source."""
    stem = clip.stem
    if m := UCF101_NAME.match(stem):
        return f"ucf101:{m['action']}_g{m['group']}"
    if m := KTH_NAME.match(stem):
        return f"kth:person{int(m['person']):02d}"
    if HMDB51_TAGS.search(stem):
        base = HMDB51_TAGS.sub("", stem)
        cut = base.rfind(f"_{label}")
        return f"hmdb51:{base[:cut] if cut > 0 else base}"
    return f"clip:{label}/{stem}"


def split_by_group(clips: list[tuple[Path, str]], fraction: float, seed: int) -> tuple[list[Path], list[Path]]:
    """``(kept, held_out)``: whole groups held out, about ``fraction`` of each class's clips.

    scikit-learn's ``StratifiedGroupKFold`` (shuffled with ``seed``) deals the groups into
    ``k = round(1 / fraction)`` folds, keeping each class's share in every fold and never splitting
    a group; the first fold is held out (so the held-out share is ``1 / k``: 0.2, 0.25, 1/3, 0.5).
    One thing it does not promise is added here: a class whose every group landed in the held-out
    fold (a class of one source video, say) gets those groups back, so training sees every class.
    One group can hold several classes (a KTH person performs every action).
    """
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold

    groups = [source_of(clip, label) for clip, label in clips]
    labels = [label for _, label in clips]
    # k as the fraction asks, but no more folds than there are groups, or clips in the largest
    # class (StratifiedGroupKFold refuses both; a tiny data set then holds out more than asked)
    folds = min(max(2, round(1 / fraction)), len(set(groups)), max(Counter(labels).values()))
    if folds < 2:
        return sorted(c for c, _ in clips), []
    import warnings

    with warnings.catch_warnings():  # "the least populated class has fewer members than n_splits": expected for small classes
        warnings.simplefilter("ignore", UserWarning)
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        _, held_idx = next(splitter.split(np.zeros(len(clips)), labels, groups))
    held_groups = {groups[i] for i in held_idx}
    for label in set(labels):
        of_class = {g for g, lab in zip(groups, labels) if lab == label}
        if of_class <= held_groups:
            held_groups -= of_class
    held = sorted(c for (c, _), g in zip(clips, groups) if g in held_groups)
    return sorted(c for (c, _), g in zip(clips, groups) if g not in held_groups), held


def grouping_name(clips: list[tuple[Path, str]]) -> str:
    """How the clips were grouped, for the data report: the patterns found in their names."""
    kinds = Counter(source_of(c, label).split(":", 1)[0] for c, label in clips)
    return ", ".join(f"{k} ({n} clips)" for k, n in sorted(kinds.items()))
