"""``data=video_folder``: clips in ``root/<class>/<clip>.avi|mp4`` (UCF101, HMDB51, KTH after unpacking).

Splits: the official ones when asked for (``seqvision.data.video_splits``: UCF101's
``train_list``/``test_list``, HMDB51's ``hmdb51_splits`` folder with ``split_index``, KTH's
person split with ``kth_split``), else a seeded split that holds out ``test_fraction`` of each
class; validation is carved from train (``val_fraction``) unless the split has its own (KTH).
Both are carved by group, never clip by clip: clips cut from one source video (a UCF101
``gNN`` group, an HMDB51 source video, a KTH person) are near-duplicates, and one of them on
each side of a split inflates the held-out accuracy (``video_splits.split_by_group``).

Each clip is decoded with PyAV once: ``num_frames`` frames ``stride`` apart around its middle,
resized to ``image_size`` while converting, and cached as a uint8 ``(T, C, H, W)`` tensor file
(keyed by path, size, mtime and the sampling settings, written atomically). The first epoch
decodes in the DataLoader workers; later epochs and later runs only read the cache. The cache
holds the sampled window, not the whole clip: bounded disk use, but no temporal jitter.

Bad inputs, decided per case (all found in ``setup``, before the first step):
  * a class folder without clips: DataError (the label set would silently change);
  * a clip that PyAV cannot open, or that has no video stream: skipped, counted, warned;
  * a clip shorter than ``(num_frames - 1) * stride + 1`` frames: skipped, counted, warned
    (UCF101 has a few; the warning says how to keep them: lower num_frames or stride);
  * no usable clip left in a class or a split: DataError.
A clip whose header is fine but whose stream breaks mid-way fails in the worker with a
DataError naming the file.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import DataLoader, Dataset

from seqvision.constraints import Fraction, NonNegativeInt, PositiveInt
from seqvision.data.image_datamodule import ImageDataModule
from seqvision.data.subset import describe as describe_limit
from seqvision.data.subset import stratified_subset
from seqvision.errors import ConfigError, DataError
from seqvision.files import resolve_path, torch_save_atomic

log = logging.getLogger(__name__)

EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".mpg", ".mpeg")


class ClipDataset(Dataset):
    """``(clip uint8 (T, C, H, W), label)`` per item, from the cache or decoded and then cached."""

    def __init__(self, items: list[tuple[Path, int, Path]], num_frames: int, stride: int, size: int, channels: int):
        self.items, self.num_frames, self.stride, self.size, self.channels = items, num_frames, stride, size, channels

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        path, label, cache = self.items[i]
        if cache.is_file():
            try:
                return torch.load(cache), label
            except Exception:  # a cache file from a killed run or another torch: decode again
                pass
        from seqvision.data.video_io import read_clip

        try:
            clip = torch.from_numpy(read_clip(path, self.num_frames, self.stride, self.size, self.channels))
        except Exception as err:
            raise DataError(f"video_folder: cannot decode {path}: {type(err).__name__}: {err}; "
                            f"delete or re-encode the file") from err
        torch_save_atomic(cache, clip)
        return clip, label


class VideoFolderDataModule(ImageDataModule):
    """Video classification: batches are ``(B, num_frames, C, image_size, image_size)``, normalized on device."""

    input_kind = "clip"

    def __init__(self, root: str, num_frames: PositiveInt = 16, stride: PositiveInt = 2, image_size: PositiveInt = 112,
                 channels: Literal[1, 3] = 3, train_list: str | None = None, test_list: str | None = None,
                 hmdb51_splits: str | None = None, split_index: Literal[1, 2, 3] = 1, kth_split: bool = False,
                 test_fraction: Fraction = 0.2, cache_dir: str | None = None, num_workers: NonNegativeInt = 2,
                 extensions: tuple[str, ...] = EXTENSIONS, mean=(0.432, 0.395, 0.376), std=(0.228, 0.221, 0.217), **kwargs):
        """Ranges are in the annotations (checked before anything is read); what depends on two
        arguments at once is checked here."""
        if (train_list is None) != (test_list is None):
            raise ConfigError("data.train_list and data.test_list go together (an official UCF101 split); valid: both or "
                              "neither; e.g. data.train_list=<ucfTrainTestlist>/trainlist01.txt "
                              "data.test_list=<ucfTrainTestlist>/testlist01.txt")
        if sum((train_list is not None, hmdb51_splits is not None, bool(kth_split))) > 1:
            raise ConfigError("more than one official split is set; valid: one of data.train_list/test_list (UCF101), "
                              "data.hmdb51_splits (HMDB51) or data.kth_split=true (KTH); e.g. data.kth_split=false")
        self.num_frames, self.stride, self.image_size, self.channels = num_frames, stride, image_size, channels
        self.input_shape = (num_frames, channels, image_size, image_size)
        self.mean, self.std = tuple(mean), tuple(std)  # one value is repeated over the channels
        kwargs["eval_batch_size"] = kwargs.get("eval_batch_size") or kwargs.get("batch_size", 8)
        super().__init__(root=root, download=False, **kwargs)
        self.extensions = tuple(e.lower() for e in extensions)
        self.lists = (resolve_path(train_list), resolve_path(test_list)) if train_list else None
        self.hmdb51 = resolve_path(hmdb51_splits) if hmdb51_splits else None
        self.split_index, self.kth_split = split_index, bool(kth_split)
        self.test_fraction, self.num_workers = test_fraction, int(num_workers)
        self.cache_root = resolve_path(cache_dir) if cache_dir else self.root / ".seqvision_cache"
        self.classes, self.clips = self._scan()
        self.num_classes = len(self.classes)
        self.datasets: dict[str, ClipDataset] = {}
        self.skipped: Counter = Counter()

    # -- finding clips ------------------------------------------------------------------------
    def _scan(self) -> tuple[list[str], dict[str, list[Path]]]:
        if not self.root.is_dir():
            raise DataError(f"video_folder: {self.root} is not a folder; expected root/<class>/<clip>.avi|mp4. "
                            f"Fix: data.root=<folder of class folders>")
        folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not folders:
            raise DataError(f"video_folder: no class folders under {self.root}; expected root/<class>/<clip>.avi|mp4")
        clips = {f.name: sorted(p for p in f.rglob("*") if p.suffix.lower() in self.extensions and p.is_file())
                 for f in folders}
        empty = [name for name, files in clips.items() if not files]
        if empty:
            raise DataError(f"video_folder: class folder(s) without clips ({', '.join(self.extensions)}): "
                            f"{', '.join(str(self.root / e) for e in empty[:5])}{' ...' if len(empty) > 5 else ''}; "
                            f"add clips or remove the folder(s) (an empty class would change the labels)")
        if len(clips) < 2:
            raise DataError(f"video_folder: only one class folder under {self.root}; classification needs two or more")
        return sorted(clips), clips

    def _split_files(self) -> dict[str, list[Path]]:
        """Train, val and test clips. The official splits are taken as they are; otherwise test,
        and validation in any case, are held out by group (``video_splits.split_by_group``), so
        clips cut from one source video never sit on both sides."""
        from seqvision.data import video_splits

        if self.lists:
            split = video_splits.ucf101_lists(self.root, *self.lists)
        elif self.hmdb51:
            split = video_splits.hmdb51_splits(self.root, self.hmdb51, self.split_index, self.classes)
        elif self.kth_split:
            split = video_splits.kth_persons([c for name in self.classes for c in self.clips[name]])
        else:
            every = [(c, name) for name in self.classes for c in self.clips[name]]
            train, test = video_splits.split_by_group(every, self.test_fraction, self.split_seed)
            split = {"train": train, "test": test}
        if "val" not in split:
            train, val = video_splits.split_by_group(self._labelled(split["train"]), self.val_fraction, self.split_seed)
            split = {"train": train, "val": val, "test": split["test"]}
        split = {k: sorted(v) for k, v in split.items()}
        everything = self._labelled([c for files in split.values() for c in files])
        self.report["grouping"] = video_splits.grouping_name(everything)
        self.report["groups"] = {k: len({video_splits.source_of(c, self._label_name(c)) for c in v})
                                 for k, v in split.items()}
        return split

    def _label_name(self, clip: Path) -> str:
        return clip.relative_to(self.root).parts[0]

    def _labelled(self, clips: list[Path]) -> list[tuple[Path, str]]:
        return [(c, self._label_name(c)) for c in clips]

    # -- caching ------------------------------------------------------------------------------
    @property
    def cache_folder(self) -> Path:
        return self.cache_root / f"clips_{self.num_frames}f_s{self.stride}_{self.channels}x{self.image_size}"

    def cache_path(self, clip: Path) -> Path:
        st = clip.stat()
        key = hashlib.sha1(f"{clip.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:20]
        return self.cache_folder / f"{clip.stem[:40]}_{key}.pt"

    def _usable(self, clip: Path, cache: Path) -> str | None:
        """None if the clip can be used, else why not (``corrupt: ...`` or ``short: ...``)."""
        if cache.is_file():
            return None
        import av

        from seqvision.data.video_io import ClipTooShort, count_frames, sample_window

        try:
            with av.open(str(clip)) as container:
                if not container.streams.video:
                    return "corrupt: no video stream"
                sample_window(count_frames(container), self.num_frames, self.stride)
        except ClipTooShort as err:
            return f"short: {err}"
        except Exception as err:
            return f"corrupt: {type(err).__name__}: {err}"
        return None

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        try:
            self.cache_folder.mkdir(parents=True, exist_ok=True)
            probe = self.cache_folder / f".write_test{os.getpid()}"
            probe.touch()
            probe.unlink()
        except OSError as err:
            raise DataError(f"video_folder: cannot write the clip cache in {self.cache_folder} ({err}); "
                            f"e.g. data.cache_dir=/tmp/seqvision_cache") from err
        label = {name: i for i, name in enumerate(self.classes)}
        examples: dict[str, list[str]] = {"corrupt": [], "short": []}
        splits = self._split_files()
        self.report["available"] = {k: len(v) for k, v in splits.items()}
        for split, files in splits.items():
            if self.limit:
                labels = torch.tensor([label[self._label_name(c)] for c in files])
                files = [files[i] for i in stratified_subset(labels, self.limit, self.split_seed).tolist()]
            items = []
            for clip in files:
                cache = self.cache_path(clip)
                why = self._usable(clip, cache)
                if why is None:
                    items.append((clip, label[self._label_name(clip)], cache))
                    continue
                kind = why.split(":")[0]
                self.skipped[kind] += 1
                examples[kind].append(f"{clip.relative_to(self.root)} ({why.split(': ', 1)[1]})")
            if not items:
                first = "; ".join(f"{k}: {v[0]}" for k, v in examples.items() if v)
                raise DataError(f"video_folder: no usable clip in the {split} split ({dict(self.skipped)} skipped; "
                                f"{first}); fix the clips, or lower data.num_frames / data.stride")
            self.datasets[split] = ClipDataset(items, self.num_frames, self.stride, self.image_size, self.channels)
        if self.skipped:
            total = sum(len(d) for d in self.datasets.values()) + sum(self.skipped.values())
            parts = [f"{n} {k} (e.g. {examples[k][0]})" for k, n in self.skipped.items()]
            log.warning("video_folder: skipped %d of %d clips: %s. Short clips fit with a lower data.num_frames or "
                        "data.stride; corrupt ones need re-encoding", sum(self.skipped.values()), total, "; ".join(parts))
        self.report["used"] = {k: len(v) for k, v in self.datasets.items()}
        self.report["classes"] = {k: len({lab for _, lab, _ in v.items}) for k, v in self.datasets.items()}
        self.report["skipped"] = dict(self.skipped)
        if self.limit:
            self.report["limit"] = describe_limit(self.limit, self.split_seed)
        log.info("video_folder: %d classes; %s clips; groups by %s; cache %s", self.num_classes,
                 ", ".join(f"{k} {len(v)}" for k, v in self.datasets.items()), self.report["grouping"],
                 self.cache_folder)

    # -- loaders ------------------------------------------------------------------------------
    def _loader(self, split: str, train: bool) -> DataLoader:
        """Training batches are sharded by the sampler Lightning injects under DDP (padded, as
        every rank must step equally often); evaluation brings its own sampler that shards
        without repeating a clip, so each one is scored exactly once."""
        dataset, sampler = self.datasets[split], None
        trainer = getattr(self, "trainer", None)
        if not train and trainer is not None and trainer.world_size > 1:
            from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler

            sampler = UnrepeatedDistributedSampler(dataset, num_replicas=trainer.world_size, rank=trainer.global_rank,
                                                   shuffle=False)
        return DataLoader(dataset, batch_size=self.batch_size if train else self.eval_batch_size,
                          shuffle=train, sampler=sampler, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0, pin_memory=False, drop_last=False)
