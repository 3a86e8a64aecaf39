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
"""

from __future__ import annotations

import re
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
