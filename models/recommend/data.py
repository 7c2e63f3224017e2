"""Input data for the recommenders: the frames Personalize's datasets hold, the event filters a solution applies, the
index (users, items, chronological sequences) every algorithm trains on, and the MovieLens-100k loader."""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass
class RecommenderData:
    """interactions: USER_ID (str), ITEM_ID (str), TIMESTAMP (int64 epoch seconds), optional EVENT_TYPE (str) and
    EVENT_VALUE (float); other columns are ignored. items: ITEM_ID + metadata (categorical strings with multiple values
    joined by "|", numbers, free text; CREATION_TIMESTAMP, when present, dates an item for exploration). users:
    USER_ID + metadata; the algorithms here do not use it (unknown users get popularity, or their session history).
    textual_fields: the items' free-text columns (Personalize's schema marks them "textual": true); None guesses them.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    textual_fields: tuple[str, ...] | None = None


def filter_events(interactions: pd.DataFrame, event_type: str | None = None,
                  event_value_threshold: float | None = None) -> pd.DataFrame:
    """Personalize's solution eventType (train only on that type) and eventValueThreshold (keep EVENT_VALUE >= it)."""
    frame = interactions
    if event_type:
        if "EVENT_TYPE" not in frame:
            raise ValueError(f"eventType {event_type!r} given but the interactions have no EVENT_TYPE column")
        frame = frame[frame["EVENT_TYPE"].astype(str) == event_type]
    if event_value_threshold is not None:
        if "EVENT_VALUE" not in frame:
            raise ValueError("eventValueThreshold given but the interactions have no EVENT_VALUE column")
        frame = frame[pd.to_numeric(frame["EVENT_VALUE"], errors="coerce") >= float(event_value_threshold)]
    if frame.empty:
        raise ValueError("no interactions left after the event type / event value filters")
    return frame


@dataclass
class Index:
    """Users and items as integer codes. Each user's interactions in time order are
    sequence_items[sequence_ptr[u]:sequence_ptr[u + 1]] (repeats kept), with their timestamps."""

    user_ids: list[str]
    item_ids: list[str]
    sequence_ptr: np.ndarray
    sequence_items: np.ndarray
    sequence_times: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def sequence(self, user: int) -> np.ndarray:
        return self.sequence_items[self.sequence_ptr[user]:self.sequence_ptr[user + 1]]


def build_index(interactions: pd.DataFrame, catalogue: list[str] | None = None) -> Index:
    """catalogue: every item id known (interaction items plus the items dataset); interaction items outside it are
    added. Item order is the sorted ids, so two trainings on the same data index alike."""
    for column in ("USER_ID", "ITEM_ID", "TIMESTAMP"):
        if column not in interactions:
            raise ValueError(f"interactions lack the {column} column")
    if interactions.empty:
        raise ValueError("no interactions")
    users = interactions["USER_ID"].astype(str).to_numpy()
    items = interactions["ITEM_ID"].astype(str).to_numpy()
    times = pd.to_numeric(interactions["TIMESTAMP"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    item_ids = sorted(set(items) | set(catalogue or ()))
    user_ids = sorted(set(users))
    user_codes = pd.Index(user_ids).get_indexer(users)
    item_codes = pd.Index(item_ids).get_indexer(items)
    # Stable sort: events with the same timestamp keep the order they were given in.
    order = np.lexsort((np.arange(len(times)), times, user_codes))
    counts = np.bincount(user_codes, minlength=len(user_ids))
    return Index(user_ids=user_ids, item_ids=item_ids,
                 sequence_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                 sequence_items=item_codes[order].astype(np.int32), sequence_times=times[order])


def recency_weights(lengths: np.ndarray, half_life: float) -> np.ndarray:
    """Weight of each position in sequences of the given lengths (concatenated): the newest interaction weighs 1, one
    `half_life` interactions older weighs 1/2. Position, not clock time, so events that arrive later as session
    history age the older ones the same way without timestamps. half_life <= 0: all weigh 1."""
    total = int(lengths.sum())
    if half_life <= 0:
        return np.ones(total, dtype=np.float32)
    ends = np.repeat(np.cumsum(lengths), lengths)
    age = ends - 1 - np.arange(total)
    return np.power(0.5, age / half_life).astype(np.float32)


def user_item_matrix(sequence_ptr: np.ndarray, sequence_items: np.ndarray, n_items: int,
                     half_life: float = 0.0) -> sp.csr_matrix:
    """users x items from Index's sequences: the recency weight of the most recent occurrence of each pair."""
    lengths = np.diff(sequence_ptr)
    weights = recency_weights(lengths, half_life)
    rows = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    frame = pd.DataFrame({"u": rows, "i": sequence_items, "w": weights})
    frame = frame.groupby(["u", "i"], sort=False)["w"].max().reset_index()
    return sp.csr_matrix((frame["w"].to_numpy(np.float32), (frame["u"].to_numpy(), frame["i"].to_numpy())),
                         shape=(len(lengths), n_items))


def movielens_100k() -> RecommenderData:
    """MovieLens-100k as the recbole wheel ships it (recbole/dataset_example/ml-100k), read in place from the
    installed package (its licence forbids redistributing copies). Every rating is an interaction (EVENT_TYPE
    "rating", EVENT_VALUE the stars); items carry TITLE (text), RELEASE_YEAR and GENRES ("|"-joined)."""
    folder = importlib.resources.files("recbole") / "dataset_example" / "ml-100k"

    def read(name: str) -> pd.DataFrame:
        with (folder / name).open("r", encoding="utf-8", errors="replace") as handle:
            frame = pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False)
        frame.columns = [column.split(":")[0] for column in frame.columns]
        return frame

    inter = read("ml-100k.inter")
    interactions = pd.DataFrame({
        "USER_ID": inter["user_id"], "ITEM_ID": inter["item_id"],
        "TIMESTAMP": inter["timestamp"].astype(float).astype(np.int64),
        "EVENT_TYPE": "rating", "EVENT_VALUE": inter["rating"].astype(float)})
    item = read("ml-100k.item")
    items = pd.DataFrame({
        "ITEM_ID": item["item_id"], "TITLE": item["movie_title"],
        "RELEASE_YEAR": pd.to_numeric(item["release_year"], errors="coerce"),
        "GENRES": item["class"].str.split().str.join("|")})
    user = read("ml-100k.user")
    users = pd.DataFrame({"USER_ID": user["user_id"], "AGE": pd.to_numeric(user["age"], errors="coerce"),
                          "GENDER": user["gender"], "OCCUPATION": user["occupation"]})
    return RecommenderData(interactions=interactions, items=items, users=users, textual_fields=("TITLE",))
